#include "tests/util/speakerphone.h"

#include <cmath>
#include <cstring>

#include "absl/time/clock.h"

namespace voxflow::testing {
namespace {
constexpr size_t kReflection = 80;  // 5 ms: a wall near the phone.
}  // namespace

SpeakerEcho::SpeakerEcho(ConverseClient& client, int delay_ms, double loss_db, uint32_t seed)
    : client_(client),
      delay_(static_cast<size_t>(delay_ms) * 16),
      gain_(static_cast<float>(std::pow(10, -loss_db / 20))),
      rng_(seed),
      room_(0, 32767 * 0.00056f),
      played_(delay_ + kReflection + 1, 0.0f) {}

void SpeakerEcho::TakeReplyAudio() {
  for (const TimedEvent& e : client_.EventsFrom(next_event_)) {
    ++next_event_;
    if (!e.event.has_reply_audio()) continue;
    const std::string& pcm = e.event.reply_audio().audio().data();
    for (size_t i = 0; i + 1 < pcm.size(); i += 2) {
      int16_t v;
      std::memcpy(&v, pcm.data() + i, 2);
      to_play_.push_back(v);
    }
  }
}

void SpeakerEcho::AddTo(Samples& piece) {
  TakeReplyAudio();
  for (float& sample : piece) {
    float out = 0;
    if (!to_play_.empty()) {
      out = to_play_.front();
      to_play_.pop_front();
      ++played_samples_;
    }
    played_.push_back(out);
    played_.pop_front();
    // played_.back() is now; the echo is delay_ ago, its reflection kReflection before that.
    const size_t n = played_.size();
    const float echo = played_[n - 1 - delay_] + 0.5f * played_[n - 1 - delay_ - kReflection];
    sample += gain_ * echo + room_(rng_);
  }
}

void SpeakerEcho::AddTo(std::string& pcm16) {
  Samples piece = FromPcm16(pcm16);
  AddTo(piece);
  pcm16 = ToPcm16(piece);
}

Speakerphone::Speakerphone(ConverseClient& client, Microphone& mic, int delay_ms, double loss_db,
                           uint32_t seed)
    : mic_(mic), echo_(client, delay_ms, loss_db, seed) {}

void Speakerphone::Step(const float* voice) {
  Samples piece(kStep, 0.0f);
  if (voice != nullptr) piece.assign(voice, voice + kStep);
  echo_.AddTo(piece);
  mic_.PlayAndWait(ToPcm16(piece));
}

void Speakerphone::Say(const Samples& voice) {
  for (size_t at = 0; at < voice.size(); at += kStep) {
    Samples step(kStep, 0.0f);
    for (size_t i = 0; i < kStep && at + i < voice.size(); ++i) step[i] = voice[at + i];
    Step(step.data());
  }
}

bool Speakerphone::ListenUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    Step(nullptr);
  }
  return true;
}

}  // namespace voxflow::testing
