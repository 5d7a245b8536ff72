// PacketReorder: puts coded packets (Opus) back in sequence order before they are decoded, so a
// packet that arrives after a later one is not lost. A gap is waited for while less than
// `max_wait_ms` of audio waits behind it (the input jitter buffer's rule for PCM: wait is
// measured in audio that arrived, not wall time); then it is given up and the decoder conceals
// it. The stream starts at the lowest of the packets that came in its first `max_wait_ms`.
// Packets without a sequence number (0) pass in arrival order. Not thread-safe.
#ifndef VOXFLOW_SERVICES_COMMON_STREAMING_PACKET_REORDER_H_
#define VOXFLOW_SERVICES_COMMON_STREAMING_PACKET_REORDER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace voxflow::streaming {

struct SequencedPacket {
  uint64_t sequence = 0;
  std::string data;
  double duration_ms = 0;
};

struct PacketReorderStats {
  int64_t reordered = 0;  // Arrived after a later packet, in time to be put back in its place.
  int64_t duplicate = 0;
  int64_t late = 0;  // Arrived after its place was given up or passed: dropped.
  int64_t lost = 0;  // Sequence numbers given up (the decoder conceals them).
};

class PacketReorder {
 public:
  explicit PacketReorder(double max_wait_ms) : max_wait_ms_(max_wait_ms) {}

  // Takes one packet; returns the packets now due, in sequence order (a gap between two of them
  // was given up).
  std::vector<SequencedPacket> Push(SequencedPacket packet);
  // Every packet still waiting, in order (the end of the input: nothing else will come).
  std::vector<SequencedPacket> Flush();

  const PacketReorderStats& stats() const { return stats_; }

 private:
  // Moves the packets now due to `out`; with `give_up_gaps`, all of them.
  void Release(std::vector<SequencedPacket>& out, bool give_up_gaps);

  const double max_wait_ms_;
  uint64_t next_ = 0;     // The sequence due next; 0 until the stream's start is known.
  uint64_t highest_ = 0;  // The highest sequence seen.
  std::map<uint64_t, SequencedPacket> waiting_;
  double waiting_ms_ = 0;
  PacketReorderStats stats_;
};

}  // namespace voxflow::streaming

#endif  // VOXFLOW_SERVICES_COMMON_STREAMING_PACKET_REORDER_H_
