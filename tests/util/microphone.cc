#include "tests/util/microphone.h"

#include <utility>

#include "absl/time/clock.h"

namespace voxflow::testing {

Microphone::Microphone(RequestSink& client, Room room)
    : client_(client), room_(std::move(room)), thread_([this] { Run(); }) {}

Microphone::~Microphone() { Stop(); }

int Microphone::Play(const std::string& pcm) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t first = queued_ + 1;
  for (size_t at = 0; at < pcm.size(); at += kChunkBytes) {
    std::string chunk = pcm.substr(at, kChunkBytes);
    chunk.resize(kChunkBytes, '\0');
    pending_.push_back(std::move(chunk));
    ++queued_;
  }
  tickets_[++last_ticket_] = {first, queued_};
  return last_ticket_;
}

std::pair<absl::Time, absl::Time> Microphone::WaitPlayed(int ticket) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto [first, last] = tickets_.at(ticket);
  changed_.wait(lock, [&] { return sent_clip_chunks_ >= last || stop_; });
  if (sent_clip_chunks_ < last) return {absl::InfinitePast(), absl::InfinitePast()};
  return {sent_at_[first], sent_at_[last]};
}

void Microphone::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t Microphone::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

void Microphone::Run() {
  absl::Time next = absl::Now();
  uint64_t sequence = 0;
  while (true) {
    absl::SleepFor(next - absl::Now());
    next += absl::Milliseconds(20);
    std::string chunk(kChunkBytes, '\0');
    bool clip = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      if (!pending_.empty()) {
        chunk = std::move(pending_.front());
        pending_.pop_front();
        clip = true;
      }
    }
    if (room_) room_(chunk);
    v1::ConverseRequest request;
    v1::AudioChunk* audio = request.mutable_audio();
    audio->set_data(std::move(chunk));
    audio->set_format(v1::PCM16);
    audio->set_sample_rate(16000);
    audio->set_channels(1);
    audio->set_sequence(++sequence);
    const bool sent = client_.Send(request);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (sent) bytes_ += kChunkBytes;
      if (clip && sent) sent_at_[++sent_clip_chunks_] = absl::Now();
      if (!sent) stop_ = true;
    }
    changed_.notify_all();
    if (!sent) return;
  }
}

}  // namespace voxflow::testing
