// Microphone: a caller's microphone on a Converse stream, for tests and benchmarks. A thread
// sends 16 kHz mono PCM16 in 20 ms chunks at real time, always: the clips given to Play(), in
// order, and silence between them (an open microphone never stops sending).
#ifndef VOXFLOW_TESTS_UTIL_MICROPHONE_H_
#define VOXFLOW_TESTS_UTIL_MICROPHONE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "absl/time/time.h"
#include "tests/util/converse_client.h"

namespace voxflow::testing {

class Microphone {
 public:
  static constexpr size_t kChunkBytes = 640;  // 20 ms.
  // What the room adds to every chunk the microphone picks up, clips and silence alike (background
  // noise, a speaker's echo): called on the microphone's thread with one 20 ms PCM16 chunk.
  using Room = std::function<void(std::string& chunk)>;

  explicit Microphone(RequestSink& client, Room room = nullptr);
  ~Microphone();  // Stop().

  // Queues `pcm` (a last partial chunk is padded with silence); returns a ticket for WaitPlayed.
  int Play(const std::string& pcm);
  // When the first and the last chunk of `ticket` were sent.
  std::pair<absl::Time, absl::Time> WaitPlayed(int ticket);
  // Play, then wait: returns when its last chunk was sent.
  absl::Time PlayAndWait(const std::string& pcm) { return WaitPlayed(Play(pcm)).second; }
  // Stops sending (the stream stays open).
  void Stop();
  // Bytes sent so far.
  uint64_t bytes() const;

 private:
  void Run();

  RequestSink& client_;
  const Room room_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> pending_;
  std::map<int, std::pair<uint64_t, uint64_t>> tickets_;  // First and last chunk numbers.
  std::map<uint64_t, absl::Time> sent_at_;                // Clip chunk number -> when sent.
  uint64_t queued_ = 0;
  uint64_t sent_clip_chunks_ = 0;
  uint64_t bytes_ = 0;
  int last_ticket_ = 0;
  bool stop_ = false;
  std::thread thread_;  // Last: starts once the rest is built.
};

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_MICROPHONE_H_
