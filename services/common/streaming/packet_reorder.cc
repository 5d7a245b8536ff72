#include "services/common/streaming/packet_reorder.h"

#include <utility>

namespace voxflow::streaming {

std::vector<SequencedPacket> PacketReorder::Push(SequencedPacket packet) {
  std::vector<SequencedPacket> out;
  if (packet.sequence == 0) {
    out.push_back(std::move(packet));
    return out;
  }
  if (next_ != 0 && packet.sequence < next_) {
    ++stats_.late;
    return out;
  }
  if (waiting_.count(packet.sequence) != 0) {
    ++stats_.duplicate;
    return out;
  }
  if (packet.sequence < highest_) ++stats_.reordered;
  if (packet.sequence > highest_) highest_ = packet.sequence;
  waiting_ms_ += packet.duration_ms;
  const uint64_t sequence = packet.sequence;
  waiting_.emplace(sequence, std::move(packet));
  Release(out, /*give_up_gaps=*/false);
  return out;
}

void PacketReorder::Release(std::vector<SequencedPacket>& out, bool give_up_gaps) {
  if (next_ == 0) {
    // The first packets may come in any order too: the stream starts at the lowest of them once
    // max_wait_ms of audio is in (a delay at the start of the call only).
    if (waiting_.empty() || (!give_up_gaps && waiting_ms_ < max_wait_ms_)) return;
    next_ = waiting_.begin()->first;
  }
  while (!waiting_.empty()) {
    auto first = waiting_.begin();
    if (first->first != next_) {
      // A gap: wait for it while little audio waits behind it.
      if (!give_up_gaps && waiting_ms_ < max_wait_ms_) return;
      stats_.lost += static_cast<int64_t>(first->first - next_);
    }
    next_ = first->first + 1;
    waiting_ms_ -= first->second.duration_ms;
    out.push_back(std::move(first->second));
    waiting_.erase(first);
  }
  waiting_ms_ = 0;  // Nothing waits (and no rounding is carried).
}

std::vector<SequencedPacket> PacketReorder::Flush() {
  std::vector<SequencedPacket> out;
  Release(out, /*give_up_gaps=*/true);
  return out;
}

}  // namespace voxflow::streaming
