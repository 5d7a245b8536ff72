#include "services/gateway/voice_clock.h"

namespace voxflow::gateway {

void VoiceClock::InputArrived(double ms) {
  input_ms_ += ms;
  arrivals_.emplace_back(input_ms_, now_());
  if (arrivals_.size() > kMaxRemembered) arrivals_.pop_front();
}

void VoiceClock::SpeechEnded(int64_t stream_ms) {
  // The first piece of input whose end reaches the position carried the last voiced sample.
  for (const auto& [end_ms, at] : arrivals_) {
    if (end_ms + 1e-6 >= static_cast<double>(stream_ms)) {
      speech_end_ = at;
      return;
    }
  }
  speech_end_ = arrivals_.empty() ? now_() : arrivals_.back().second;
}

std::optional<absl::Duration> VoiceClock::ReplyStarted() {
  if (!speech_end_.has_value()) return std::nullopt;
  const absl::Duration waited = now_() - *speech_end_;
  speech_end_.reset();
  return waited;
}

}  // namespace voxflow::gateway
