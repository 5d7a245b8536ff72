// VoiceClock: voice-to-voice as the gateway sees it, from the arrival of the caller's last voiced
// audio to the first reply audio sent back. The orchestrator says where the speech ended (its
// UserSpeech STOPPED position, in ms of the input stream); the clock remembers when each piece of
// input arrived, so that position becomes a time on the gateway's own clock.
#ifndef VOXFLOW_SERVICES_GATEWAY_VOICE_CLOCK_H_
#define VOXFLOW_SERVICES_GATEWAY_VOICE_CLOCK_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <utility>

#include "absl/time/time.h"

namespace voxflow::gateway {

class VoiceClock {
 public:
  // `now` is injected so that tests set the time.
  explicit VoiceClock(std::function<absl::Time()> now) : now_(std::move(now)) {}

  absl::Time Now() const { return now_(); }
  // `ms` more input audio arrived now.
  void InputArrived(double ms);
  // The orchestrator says the caller's speech ended `stream_ms` into the input.
  void SpeechEnded(int64_t stream_ms);
  // The first reply audio of a turn goes out now: the voice-to-voice since the end of speech,
  // once per end of speech (nothing when none is pending).
  std::optional<absl::Duration> ReplyStarted();

 private:
  static constexpr size_t kMaxRemembered = 3000;  // 60 s of 20 ms frames.
  std::function<absl::Time()> now_;
  double input_ms_ = 0;
  std::deque<std::pair<double, absl::Time>> arrivals_;  // Input end (ms) -> when it arrived.
  std::optional<absl::Time> speech_end_;
};

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_VOICE_CLOCK_H_
