#include "services/orchestrator/listening/echo_canceller.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "services/common/audio_converter.h"
#include "webrtc/common.h"
#include "webrtc/modules/audio_processing/include/audio_processing.h"
#include "webrtc/modules/interface/module_common_types.h"

namespace voxflow::orchestrator {
namespace {

// Reply audio the caller's audio has not caught up with: beyond this (2 s) the oldest goes, as
// the echo canceller cannot reach that far back anyway.
constexpr size_t kMaxFarMs = 2000;
// What is left of the echo's delay once the reply is shifted by the estimate: the canceller's own
// (delay-agnostic) search covers it, and any drift of the caller's playout.
constexpr int kResidualDelayMs = 60;
// Watching for an echo, the envelopes must line up this well (EchoDelay's confidence) for the
// canceller to engage: unrelated speech and noise stay under 0.3.
constexpr double kEchoFound = 0.6;
// Blocks of the reply's echo (10 ms, the reply speaking) a canceller must have seen before its
// figures count: 2 s.
constexpr int kConvergedBlocks = 200;
// A block of reply above this mean square (-50 dBFS) is the reply speaking: its echo is measured.
constexpr double kEchoSourceEnergy = 10.7e3;

}  // namespace

namespace {

// WebRTC's echo canceller for mono audio at `rate`.
absl::StatusOr<std::unique_ptr<webrtc::AudioProcessing>> CreateWebRtcCanceller(int rate) {
  webrtc::Config config;
  // The echo of a reply played on a speakerphone comes back 40-400 ms later: EchoDelay finds
  // how much later and the canceller is told (its own delay-agnostic mode did not reach past
  // about 200 ms); the extended filter covers the room's tail.
  config.Set<webrtc::ExtendedFilter>(new webrtc::ExtendedFilter(true));
  config.Set<webrtc::DelayAgnostic>(new webrtc::DelayAgnostic(true));

  std::unique_ptr<webrtc::AudioProcessing> apm(webrtc::AudioProcessing::Create(config));
  if (apm == nullptr) return absl::InternalError("webrtc AudioProcessing::Create failed");
  // The int16 interface wants one rate for the caller's audio, the cleaned audio and the reply,
  // set before the reply's first block.
  if (apm->Initialize(rate, rate, rate, webrtc::AudioProcessing::kMono,
                      webrtc::AudioProcessing::kMono, webrtc::AudioProcessing::kMono) != 0) {
    return absl::InternalError("webrtc AudioProcessing cannot run at the input's rate");
  }
  webrtc::EchoCancellation* aec = apm->echo_cancellation();
  if (aec->enable_drift_compensation(false) != 0 ||
      aec->set_suppression_level(webrtc::EchoCancellation::kLowSuppression) != 0 ||
      aec->enable_delay_logging(true) != 0 || aec->Enable(true) != 0) {
    return absl::InternalError("webrtc echo cancellation cannot be configured");
  }
  return apm;
}

}  // namespace

bool EchoCanceller::SupportsNearFormat(const v1::AudioStreamFormat& near) {
  const int rate = near.sample_rate();
  const bool format =
      near.format() == v1::PCM16 || near.format() == v1::MULAW || near.format() == v1::ALAW;
  return format && near.channels() == 1 &&
         (rate == 8000 || rate == 16000 || rate == 32000 || rate == 48000);
}

absl::StatusOr<std::unique_ptr<EchoCanceller>> EchoCanceller::Create(
    const v1::AudioStreamFormat& near, const v1::AudioStreamFormat& far, Engage engage) {
  if (!SupportsNearFormat(near)) {
    return absl::InvalidArgumentError(
        absl::StrCat("echo cancellation needs mono PCM16, MULAW or ALAW input at 8, 16, 32 or "
                     "48 kHz (this is ",
                     v1::AudioFormat_Name(near.format()), " at ", near.sample_rate(), " Hz, ",
                     near.channels(), " channels)"));
  }
  v1::AudioStreamFormat pcm = near;
  pcm.set_format(v1::PCM16);
  std::unique_ptr<AudioConverter> far_converter, near_decoder, near_encoder;
  if (far.format() != pcm.format() || far.sample_rate() != pcm.sample_rate() ||
      far.channels() != pcm.channels()) {
    auto converter = AudioConverter::Create(far, pcm);
    if (!converter.ok()) return converter.status();
    far_converter = *std::move(converter);
  }
  if (near.format() != v1::PCM16) {
    auto decoder = AudioConverter::Create(near, pcm);
    if (!decoder.ok()) return decoder.status();
    auto encoder = AudioConverter::Create(pcm, near);
    if (!encoder.ok()) return encoder.status();
    near_decoder = *std::move(decoder);
    near_encoder = *std::move(encoder);
  }
  // Made here for the errors it can give (about 370 KB); when watching, dropped until needed.
  absl::StatusOr<std::unique_ptr<webrtc::AudioProcessing>> apm =
      CreateWebRtcCanceller(near.sample_rate());
  if (!apm.ok()) return apm.status();
  const bool engaged = engage == Engage::kAlways || near.format() != v1::PCM16;
  if (!engaged) apm->reset();
  auto canceller = std::unique_ptr<EchoCanceller>(
      new EchoCanceller(near.sample_rate(), std::move(far_converter), std::move(near_decoder),
                        std::move(near_encoder), *std::move(apm)));
  // A phone line's caller is on a handset or a speakerphone nobody can tell apart: on from the
  // start, under AUTO until a second of reply has found no echo.
  canceller->stats_.engaged = engaged;
  canceller->watching_ = engage == Engage::kOnEcho;
  return canceller;
}

EchoCanceller::EchoCanceller(int rate, std::unique_ptr<AudioConverter> far_converter,
                             std::unique_ptr<AudioConverter> near_decoder,
                             std::unique_ptr<AudioConverter> near_encoder,
                             std::unique_ptr<webrtc::AudioProcessing> apm)
    : rate_(rate),
      block_samples_(static_cast<size_t>(rate / 100)),
      far_converter_(std::move(far_converter)),
      near_decoder_(std::move(near_decoder)),
      near_encoder_(std::move(near_encoder)),
      apm_(std::move(apm)),
      frame_(std::make_unique<webrtc::AudioFrame>()) {}

EchoCanceller::~EchoCanceller() = default;

int64_t EchoCanceller::IndexOf(absl::Time t) {
  if (origin_ == absl::InfinitePast()) origin_ = t;
  return static_cast<int64_t>(std::llround(absl::ToDoubleSeconds(t - origin_) * rate_));
}

void EchoCanceller::OnReplyPlayed(absl::string_view pcm, absl::Time starts) {
  absl::StatusOr<std::string> converted =
      far_converter_ != nullptr ? far_converter_->Convert(pcm) : std::string(pcm);
  if (!converted.ok()) return;
  const int64_t at = IndexOf(starts);
  const int64_t end = far_first_ + static_cast<int64_t>(far_.size());
  const int64_t slack = rate_ / 500;  // 2 ms: frames due back to back, give or take rounding.
  if (far_.empty() || at > end + slack || at < end - slack) {
    // A new stretch of reply (or a jump in its timeline): what is held before it stays where it
    // is due, silence fills the gap.
    if (far_.empty() || at < far_first_) {
      far_.clear();
      far_first_ = at;
    } else if (at > end) {
      far_.insert(far_.end(), static_cast<size_t>(at - end), 0);
    } else {
      far_.resize(static_cast<size_t>(at - far_first_));  // Due again: the newer audio wins.
    }
  }
  const size_t samples = converted->size() / 2;
  for (size_t i = 0; i < samples; ++i) {
    int16_t v;
    std::memcpy(&v, converted->data() + 2 * i, 2);
    far_.push_back(v);
  }
  const size_t max = static_cast<size_t>(rate_) * kMaxFarMs / 1000;
  if (far_.size() > max) {
    const size_t drop = far_.size() - max;
    far_.erase(far_.begin(), far_.begin() + static_cast<std::ptrdiff_t>(drop));
    far_first_ += static_cast<int64_t>(drop);
  }
}

std::string EchoCanceller::Process(absl::string_view audio, absl::Time captured) {
  if (near_decoder_ == nullptr) return ProcessPcm16(std::string(audio), captured);
  absl::StatusOr<std::string> pcm = near_decoder_->Convert(audio);
  if (!pcm.ok() || pcm->size() != audio.size() * 2) return std::string(audio);
  absl::StatusOr<std::string> encoded =
      near_encoder_->Convert(ProcessPcm16(*std::move(pcm), captured));
  if (!encoded.ok() || encoded->size() != audio.size()) return std::string(audio);
  return *std::move(encoded);
}

std::string EchoCanceller::ProcessPcm16(std::string out, absl::Time captured) {
  // The caller's audio runs on by its own count; its arrival times only re-anchor it when they
  // disagree by more than network jitter (30 ms), so jitter does not shift the pairing.
  const int64_t expected = IndexOf(captured);
  if (near_index_ < 0 || std::llabs(expected - near_index_) > rate_ * 30 / 1000) {
    near_index_ = expected;
  }
  const size_t block_bytes = block_samples_ * 2;
  std::vector<int16_t> block(block_samples_);
  for (size_t at = 0; at + block_bytes <= out.size(); at += block_bytes) {
    // The far end paired with this block: the reply due to play at the same moment (silence
    // where none is). The canceller is told how much later its echo comes.
    // Reply history the shifted pairing may still read: up to 500 ms back.
    const int64_t keep_from = near_index_ - rate_ / 2;
    while (!far_.empty() && far_first_ < keep_from) {
      far_.pop_front();
      ++far_first_;
    }
    auto far_at = [&](int64_t index) -> int16_t {
      const int64_t offset = index - far_first_;
      return offset >= 0 && offset < static_cast<int64_t>(far_.size())
                 ? far_[static_cast<size_t>(offset)]
                 : int16_t{0};
    };
    for (size_t i = 0; i < block_samples_; ++i) {
      block[i] = far_at(near_index_ + static_cast<int64_t>(i));
    }
    int16_t* near = reinterpret_cast<int16_t*>(out.data() + at);
    delay_.Push(block.data(), near, block_samples_);
    reply_due_.assign(block.begin(), block.end());
    // Watching (Engage::kOnEcho), the canceller engages once the reply is found in the caller's
    // audio; until then only the suppressor below runs, for the cost of the envelopes.
    if (!stats_.engaged && delay_.found() && delay_.confidence() >= kEchoFound) {
      // The canceller is made again as it was in Create(), which succeeded.
      absl::StatusOr<std::unique_ptr<webrtc::AudioProcessing>> apm = CreateWebRtcCanceller(rate_);
      if (apm.ok()) {
        apm_ = *std::move(apm);
        stats_.engaged = true;
      }
    }
    // The reply this block's echo comes from (as due, until the delay is known): the echo's
    // figures below compare the caller's audio with it.
    double echo_source = 0;
    const int64_t delay = static_cast<int64_t>(delay_.delay_ms()) * rate_ / 1000;
    for (size_t i = 0; i < block_samples_; ++i) {
      const double v = far_at(near_index_ - delay + static_cast<int64_t>(i));
      echo_source += v * v;
    }
    const double near_energy = BlockEnergy(near, block_samples_);
    if (stats_.engaged) Cancel(far_at, near);
    near_index_ += static_cast<int64_t>(block_samples_);
    noise_.Push(near_energy);
    if (echo_source > kEchoSourceEnergy * static_cast<double>(block_samples_)) {
      if (stats_.engaged) ++cancelled_echo_blocks_;
      ++measured_.blocks;
      measured_.far += echo_source;
      measured_.near += near_energy;
      measured_.out += BlockEnergy(near, block_samples_);
    }
    // What the canceller left of the echo goes too (suppressed: blocks the caller cannot have
    // spoken in, given how loud the reply was).
    // Once the reply has spoken for a second without being found in the caller's audio (a
    // headset, a handset), there is no echo to suppress: the suppressor would only take the
    // caller's own voice for one in a noisy room, or the start of a quick answer.
    stats_.echo_found = delay_.found();
    stats_.no_echo = delay_.looked() && !delay_.found();
    // AUTO on a phone line cancels from the start; once a second of reply has found no echo (a
    // handset, or a phone cancelling its own: most calls), the canceller stops (most of what
    // AUTO cost a phone call, docs/BENCHMARKS.md), and it engages again above if the echo turns up.
    if (watching_ && stats_.engaged && stats_.no_echo) {
      apm_.reset();
      stats_.engaged = false;
    }
    suppressor_.Process(reply_due_.data(), near, block_samples_,
                        stats_.no_echo   ? ResidualEchoSuppressor::kNoEchoDb
                        : stats_.engaged ? echo_loss_db_
                                         : ResidualEchoSuppressor::kUncancelled);
    stats_.suppressed_blocks = suppressor_.suppressed_blocks();
    ++stats_.blocks;
  }
  // The echo's figures, once a second of audio, from the blocks whose echo source played (in a
  // pause between replies they would say nothing about the echo).
  if (stats_.blocks >= metrics_at_ + 100) {
    metrics_at_ = stats_.blocks;
    if (measured_.blocks >= 20) {
      // The room's steady noise is no echo: it is taken off the caller's audio first.
      const double noise = noise_.block_energy() * measured_.blocks;
      const double echo = std::max(measured_.near - noise, 1.0);
      stats_.erl_db = 10 * std::log10(measured_.far / echo);
      stats_.erle_db = 10 * std::log10(measured_.near / std::max(measured_.out, 1.0));
      // A canceller just engaged takes a while to learn the room: what it takes off at first is
      // not to be counted on (its suppression comes and goes) until it has cancelled 2 s of echo.
      if (cancelled_echo_blocks_ >= kConvergedBlocks) LearnEchoLoss();
    }
    measured_ = {};
    stats_.delay_ms = delay_.delay_ms();
  }
  return out;
}

template <typename FarAt>
void EchoCanceller::Cancel(const FarAt& far_at, int16_t* near) {
  // The canceller gets the reply shifted by most of the estimated delay; its delay-agnostic
  // mode finds the rest and follows it as it moves.
  const int64_t shift = std::max<int64_t>(0, (delay_.delay_ms() - kResidualDelayMs) * rate_ / 1000);
  std::vector<int16_t>& block = shifted_reply_;
  block.resize(block_samples_);
  for (size_t i = 0; i < block_samples_; ++i) {
    block[i] = far_at(near_index_ - shift + static_cast<int64_t>(i));
  }
  frame_->UpdateFrame(0, 0, block.data(), block_samples_, rate_, webrtc::AudioFrame::kNormalSpeech,
                      webrtc::AudioFrame::kVadUnknown, 1);
  if (apm_->AnalyzeReverseStream(frame_.get()) != webrtc::AudioProcessing::kNoError) return;
  frame_->UpdateFrame(0, 0, near, block_samples_, rate_, webrtc::AudioFrame::kNormalSpeech,
                      webrtc::AudioFrame::kVadUnknown, 1);
  apm_->set_stream_delay_ms(kResidualDelayMs);
  if (apm_->ProcessStream(frame_.get()) != webrtc::AudioProcessing::kNoError) return;
  std::memcpy(near, frame_->data_, block_samples_ * 2);
  stats_.echo_blocks += apm_->echo_cancellation()->stream_has_echo();
}

void EchoCanceller::LearnEchoLoss() {
  // How far under the reply its echo reaches the detector: the echo's own loss and what the
  // canceller took off, as measured over the last second. No echo at all (a headset) measures as
  // a large loss, and the suppressor then leaves the caller alone. The caller talking over the
  // reply makes both figures fall for a while: the loss learnt falls by at most 1 dB a second,
  // so it is not the caller's own voice that gets them suppressed.
  const double measured = std::max(stats_.erl_db, 0.0) + std::max(stats_.erle_db, 0.0);
  echo_loss_db_ = std::max(measured, echo_loss_db_ - 1);
}

}  // namespace voxflow::orchestrator
