#include "services/orchestrator/listening/voice_activity_detector.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/audio_converter.h"
#include "webrtc/modules/audio_processing/include/audio_processing.h"
#include "webrtc/modules/interface/module_common_types.h"

namespace voxflow::orchestrator {
namespace {

constexpr int kVadRate = 16000;
constexpr size_t kBlockSamples = kVadRate / 100;  // The module works on 10 ms blocks.
constexpr int kBlockMs = 10;
constexpr int16_t kSilencePeak = 32;  // -60 dBFS.

// Converts the input to 16 kHz mono and hands each 10 ms block to the detector's rule; a frame
// is speech when any of its blocks is.
class BlockVad : public VoiceActivityDetector {
 public:
  explicit BlockVad(std::unique_ptr<AudioConverter> converter) : converter_(std::move(converter)) {}

  bool IsSpeech(absl::string_view frame) final {
    absl::StatusOr<std::string> pcm =
        converter_ != nullptr ? converter_->Convert(frame) : std::string(frame);
    if (!pcm.ok()) return false;
    const size_t samples = pcm->size() / 2;
    const size_t old = pending_.size();
    pending_.resize(old + samples);
    std::memcpy(pending_.data() + old, pcm->data(), samples * 2);
    bool speech = false;
    size_t offset = 0;
    for (; offset + kBlockSamples <= pending_.size(); offset += kBlockSamples) {
      last_ = HearBlock(pending_.data() + offset);
      speech |= last_;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(offset));
    // A frame shorter than a block (or resampler delay) carries the last decision on.
    return speech || (offset == 0 && last_);
  }

 protected:
  // One 10 ms block of 16 kHz audio: is it speech?
  virtual bool HearBlock(const int16_t* block) = 0;

  static int16_t Peak(const int16_t* block) {
    int16_t peak = 0;
    for (size_t i = 0; i < kBlockSamples; ++i) {
      peak = std::max<int16_t>(peak, static_cast<int16_t>(std::abs(block[i])));
    }
    return peak;
  }

 private:
  const std::unique_ptr<AudioConverter> converter_;  // Null when the input is 16 kHz mono PCM16.
  std::vector<int16_t> pending_;
  bool last_ = false;
};

// Runs `block`, 10 ms at `rate`, through `apm` (its modules may clean it, in `frame`, and decide
// on it); false when the module refused it.
bool ProcessBlock(webrtc::AudioProcessing& apm, webrtc::AudioFrame& frame, const int16_t* block,
                  int rate = kVadRate) {
  frame.UpdateFrame(0, 0, block, static_cast<size_t>(rate / 100), rate,
                    webrtc::AudioFrame::kNormalSpeech, webrtc::AudioFrame::kVadUnknown, 1);
  return apm.ProcessStream(&frame) == webrtc::AudioProcessing::kNoError;
}

class WebRtcVad final : public BlockVad {
 public:
  WebRtcVad(std::unique_ptr<AudioConverter> converter, webrtc::AudioProcessing* apm)
      : BlockVad(std::move(converter)), apm_(apm) {}

 private:
  bool HearBlock(const int16_t* block) override {
    const bool voice =
        ProcessBlock(*apm_, frame_, block) && apm_->voice_detection()->stream_has_voice();
    // The module keeps its last decision through blocks of digital silence (it skips them):
    // a block below -60 dBFS at every sample is not speech, whatever came before.
    return Peak(block) > kSilencePeak && voice;
  }

  const std::unique_ptr<webrtc::AudioProcessing> apm_;
  webrtc::AudioFrame frame_;
};

// The quietest 50 ms of the last window: a noise floor that follows a rising noise within the
// window and a falling one at once (minimum statistics, simplified).
class NoiseFloor {
 public:
  explicit NoiseFloor(int window_blocks) : window_blocks_(window_blocks) {}

  // The block's mean square; returns the floor including it.
  double Push(double energy) {
    recent_.push_back(energy);
    recent_sum_ += energy;
    if (recent_.size() > kSmoothBlocks) {
      recent_sum_ -= recent_.front();
      recent_.pop_front();
    }
    const double smoothed = recent_sum_ / static_cast<double>(recent_.size());
    // A monotonic deque: the window's minimum in O(1) per block.
    while (!minima_.empty() && minima_.back().second >= smoothed) minima_.pop_back();
    minima_.emplace_back(index_, smoothed);
    while (minima_.front().first + window_blocks_ <= index_) minima_.pop_front();
    ++index_;
    return minima_.front().second;
  }

 private:
  static constexpr size_t kSmoothBlocks = 5;
  const int64_t window_blocks_;
  std::deque<double> recent_;
  double recent_sum_ = 0;
  std::deque<std::pair<int64_t, double>> minima_;
  int64_t index_ = 0;
};

// How periodic the recent audio is at a speaking pitch: the highest normalized correlation of
// the last 20 ms with itself 2.5..16.7 ms earlier (60..400 Hz), at 8 kHz, on the residual of a
// short linear prediction. Whitening first matters: coloured noise (brown, pink) correlates with
// itself at short lags, while the pitch pulses of voiced speech survive in the residual.
class Harmonicity {
 public:
  // 10 ms at 8 kHz.
  void Push(const int16_t* narrow) {
    history_.insert(history_.end(), narrow, narrow + kNarrowBlock);
    if (history_.size() > kHistory) {
      history_.erase(history_.begin(),
                     history_.begin() + static_cast<std::ptrdiff_t>(history_.size() - kHistory));
    }
  }

  // The highest correlation, or the first at least `enough`: whether a block is pitched is all
  // the detector asks, and most voiced blocks answer it long before the last lag.
  double Value(double enough) {
    if (history_.size() < kHistory) return 0;
    Whiten();
    const float* now = residual_.data() + (kHistory - kWindow);
    const float e0 = Dot(now, now);
    if (e0 <= 0) return 0;
    // A voice's pitch moves little from one block to the next: the lags around the last one
    // found answer most voiced blocks at once (the answer, pitched or not, is the same in any
    // order of lags).
    double best = 0;
    size_t probed_from = 1, probed_to = 0;  // None yet.
    if (pitch_lag_ > 0) {
      probed_from = std::max(kMinLag, pitch_lag_ - kNearLags);
      probed_to = std::min(kMaxLag, pitch_lag_ + kNearLags);
      for (size_t lag = probed_from; lag <= probed_to; ++lag) {
        const float* then = now - lag;
        if (Reaches(now, lag, e0, Dot(then, then), enough, &best)) return best;
      }
    }
    // The energy of the lagged window slides along with the lag; the lags probed are in `best`.
    float e1 = Dot(now - kMinLag, now - kMinLag);
    pitch_lag_ = 0;
    for (size_t lag = kMinLag; lag <= kMaxLag; ++lag) {
      const float* then = now - lag;
      if (lag > kMinLag) e1 += then[0] * then[0] - then[kWindow] * then[kWindow];
      if (lag >= probed_from && lag <= probed_to) continue;
      if (Reaches(now, lag, e0, e1, enough, &best)) break;
    }
    return best;
  }

 private:
  static constexpr size_t kNarrowBlock = kBlockSamples / 2;
  static constexpr size_t kWindow = 160;  // 20 ms at 8 kHz.
  static constexpr size_t kMinLag = 20;   // 400 Hz.
  static constexpr size_t kMaxLag = 134;  // 60 Hz.
  static constexpr size_t kHistory = kWindow + kMaxLag;
  static constexpr int kOrder = 4;
  static constexpr size_t kNearLags = 2;

  // Folds the correlation at `lag` (`e1`: the lagged window's energy) into `best`; true, and
  // the lag remembered as the pitch, once `best` reaches `enough`.
  bool Reaches(const float* now, size_t lag, float e0, float e1, double enough, double* best) {
    if (e1 > 0) *best = std::max(*best, Dot(now, now - lag) / std::sqrt(double(e0) * e1));
    if (*best < enough) return false;
    pitch_lag_ = lag;
    return true;
  }

  // Four partial sums, so that the compiler can keep them in one vector register.
  static float Dot(const float* a, const float* b) {
    float sum[4] = {0, 0, 0, 0};
    for (size_t n = 0; n < kWindow; n += 4) {
      for (size_t k = 0; k < 4; ++k) sum[k] += a[n + k] * b[n + k];
    }
    return (sum[0] + sum[1]) + (sum[2] + sum[3]);
  }

  // residual_ = history_ through the inverse of its order-4 linear predictor (Levinson-Durbin).
  void Whiten() {
    // The samples are whole numbers, so every product and sum is exact in a double whatever the
    // order: four partial sums give the same figures without one long chain of additions.
    double r[kOrder + 1] = {};
    for (int k = 0; k <= kOrder; ++k) {
      double partial[4] = {0, 0, 0, 0};
      size_t n = static_cast<size_t>(k);
      for (; n + 4 <= kHistory; n += 4) {
        for (size_t j = 0; j < 4; ++j) {
          partial[j] += double(history_[n + j]) * history_[n + j - static_cast<size_t>(k)];
        }
      }
      for (; n < kHistory; ++n)
        partial[0] += double(history_[n]) * history_[n - static_cast<size_t>(k)];
      r[k] = (partial[0] + partial[1]) + (partial[2] + partial[3]);
    }
    double a[kOrder + 1] = {1};
    double error = r[0] * (1 + 1e-9) + 1e-9;
    for (int i = 1; i <= kOrder; ++i) {
      double acc = r[i];
      for (int j = 1; j < i; ++j) acc += a[j] * r[i - j];
      const double k = -acc / error;
      double next[kOrder + 1];
      for (int j = 0; j <= kOrder; ++j) next[j] = a[j];
      for (int j = 1; j < i; ++j) next[j] = a[j] + k * a[i - j];
      next[i] = k;
      for (int j = 0; j <= kOrder; ++j) a[j] = next[j];
      error *= 1 - k * k;
    }
    residual_.assign(kHistory, 0.0f);
    for (size_t n = kOrder; n < kHistory; ++n) {
      double e = history_[n];
      for (int j = 1; j <= kOrder; ++j) e += a[j] * history_[n - static_cast<size_t>(j)];
      residual_[n] = static_cast<float>(e);
    }
  }

  std::vector<float> history_;
  std::vector<float> residual_;
  size_t pitch_lag_ = 0;  // Where the last pitch was found; 0 when the last search found none.
};

class NoiseRobustVad final : public BlockVad {
 public:
  NoiseRobustVad(std::unique_ptr<AudioConverter> converter, webrtc::AudioProcessing* apm,
                 NoiseRobustVadOptions options)
      : BlockVad(std::move(converter)),
        options_(options),
        apm_(apm),
        floor_(std::max(1, options.floor_window_ms / kBlockMs)),
        snr_(std::pow(10, options.floor_snr_db / 10)) {}

 private:
  // After a gap, speech must pass for kOnsetBlocks in a row: a lone 10..30 ms of noise that
  // passes every test would otherwise hold an utterance open for another silence_ms.
  bool HearBlock(const int16_t* block) override {
    run_blocks_ = Passes(block) ? run_blocks_ + 1 : 0;
    const bool speech =
        run_blocks_ > 0 && (gap_blocks_ < kGapBlocks || run_blocks_ >= kOnsetBlocks);
    gap_blocks_ = speech ? 0 : gap_blocks_ + 1;
    return speech;
  }

  bool Passes(const int16_t* block) {
    // Integer sums are exact (as the double sum was) and vectorize.
    int64_t sum = 0;
    for (size_t i = 0; i < kBlockSamples; ++i) sum += int32_t{block[i]} * block[i];
    const double energy = static_cast<double>(sum) / kBlockSamples;
    // The floor never counts as below -80 dBFS: digital silence is no floor to be above.
    const double floor = std::max(floor_.Push(energy), kMinFloor);
    const double level_db = 10 * std::log10(std::max(energy, kMinFloor) / kFullScale);
    foreground_db_ -= options_.foreground_decay_db_per_s * kBlockMs / 1000;
    // Noise suppression, the pitch (and the GMM, when asked for) work on the block at 8 kHz (speech
    // below 4 kHz is what they need, at half the cost): the mean of each pair of samples.
    int16_t narrow[kBlockSamples / 2];
    for (size_t i = 0; i < kBlockSamples / 2; ++i) {
      narrow[i] = static_cast<int16_t>((block[2 * i] + block[2 * i + 1]) / 2);
    }
    const bool voice = ProcessBlock(*apm_, frame_, narrow, kVadRate / 2) &&
                       (!options_.gmm || apm_->voice_detection()->stream_has_voice());
    // The pitch is looked for in the cleaned block: noise suppression takes most of a steady
    // noise away and leaves the harmonics.
    harmonicity_.Push(options_.noise_suppression >= 0 ? frame_.data_ : narrow);
    const bool heard = voice && Peak(block) > kSilencePeak &&
                       (options_.floor_snr_db <= 0 || energy >= floor * snr_) &&
                       (options_.foreground_margin_db <= 0 ||
                        level_db >= foreground_db_ - options_.foreground_margin_db);
    if (heard && options_.min_harmonicity <= 0) return true;
    // A pitch counts once it lasts kPitchBlocks: noise has one now and then, a vowel keeps it.
    pitched_blocks_ =
        heard && harmonicity_.Value(options_.min_harmonicity) >= options_.min_harmonicity
            ? pitched_blocks_ + 1
            : 0;
    if (pitched_blocks_ >= kPitchBlocks) {
      voiced_hold_blocks_ = options_.voicing_hold_ms / kBlockMs;
      foreground_db_ = std::max(foreground_db_, level_db);
      return true;
    }
    // The consonants and short pauses between vowels: held for voicing_hold_ms whatever the
    // other tests say, as WebRTC's detector holds its own decision.
    if (voiced_hold_blocks_ > 0) {
      --voiced_hold_blocks_;
      return true;
    }
    return false;
  }

  static constexpr int kPitchBlocks = 3;
  static constexpr int kOnsetBlocks = 4;
  static constexpr int kGapBlocks = 10;
  static constexpr double kFullScale = 32767.0 * 32767.0;
  static constexpr double kMinFloor = kFullScale * 1e-8;  // -80 dBFS.
  const NoiseRobustVadOptions options_;
  const std::unique_ptr<webrtc::AudioProcessing> apm_;
  webrtc::AudioFrame frame_;
  NoiseFloor floor_;
  Harmonicity harmonicity_;
  const double snr_;
  int voiced_hold_blocks_ = 0;
  int pitched_blocks_ = 0;
  int gap_blocks_ = kGapBlocks;  // Blocks since the last speech block.
  int run_blocks_ = 0;           // Blocks in a row that passed every test.
  double foreground_db_ = -100;  // The caller's loudest recent voiced block, decaying.
};

absl::StatusOr<std::unique_ptr<AudioConverter>> ConverterTo16k(const v1::AudioStreamFormat& input) {
  if (input.format() == v1::PCM16 && input.sample_rate() == kVadRate && input.channels() == 1) {
    return nullptr;
  }
  v1::AudioStreamFormat vad_format;
  vad_format.set_format(v1::PCM16);
  vad_format.set_sample_rate(kVadRate);
  vad_format.set_channels(1);
  return AudioConverter::Create(input, vad_format);
}

// An AudioProcessing with, when `gmm`, WebRTC's detector at its most aggressive
// (kVeryLowLikelihood: white noise up to about -25 dBFS is mostly not speech while speech onsets
// are kept) and, when `noise_suppression` is 0..3, noise suppression at that level ahead of it.
absl::StatusOr<std::unique_ptr<webrtc::AudioProcessing>> CreateDetectingApm(int noise_suppression,
                                                                            bool gmm) {
  std::unique_ptr<webrtc::AudioProcessing> apm(webrtc::AudioProcessing::Create());
  if (apm == nullptr) return absl::InternalError("webrtc AudioProcessing::Create failed");
  webrtc::VoiceDetection* vad = apm->voice_detection();
  if (gmm && (vad->Enable(true) != 0 ||
              vad->set_likelihood(webrtc::VoiceDetection::kVeryLowLikelihood) != 0 ||
              vad->set_frame_size_ms(kBlockMs) != 0)) {
    return absl::InternalError("webrtc voice detection cannot be configured");
  }
  if (noise_suppression >= 0) {
    static constexpr webrtc::NoiseSuppression::Level kLevels[] = {
        webrtc::NoiseSuppression::kLow, webrtc::NoiseSuppression::kModerate,
        webrtc::NoiseSuppression::kHigh, webrtc::NoiseSuppression::kVeryHigh};
    if (apm->noise_suppression()->set_level(kLevels[std::min(noise_suppression, 3)]) != 0 ||
        apm->noise_suppression()->Enable(true) != 0) {
      return absl::InternalError("webrtc noise suppression cannot be configured");
    }
  }
  return apm;
}

}  // namespace

absl::StatusOr<std::unique_ptr<VoiceActivityDetector>> CreateWebRtcVad(
    const v1::AudioStreamFormat& input) {
  auto converter = ConverterTo16k(input);
  if (!converter.ok()) return converter.status();
  auto apm = CreateDetectingApm(-1, /*gmm=*/true);
  if (!apm.ok()) return apm.status();
  return std::unique_ptr<VoiceActivityDetector>(
      new WebRtcVad(*std::move(converter), apm->release()));
}

absl::StatusOr<std::unique_ptr<VoiceActivityDetector>> CreateNoiseRobustVad(
    const v1::AudioStreamFormat& input, NoiseRobustVadOptions options) {
  auto converter = ConverterTo16k(input);
  if (!converter.ok()) return converter.status();
  auto apm = CreateDetectingApm(options.noise_suppression, options.gmm);
  if (!apm.ok()) return apm.status();
  return std::unique_ptr<VoiceActivityDetector>(
      new NoiseRobustVad(*std::move(converter), apm->release(), options));
}

absl::StatusOr<std::unique_ptr<VoiceActivityDetector>> CreateVoiceActivityDetector(
    const v1::AudioStreamFormat& input, v1::VoiceDetector kind, bool behind_echo_canceller) {
  switch (kind) {
    case v1::VOICE_DETECTOR_WEBRTC:
      return CreateWebRtcVad(input);
    case v1::VOICE_DETECTOR_NOISE_ROBUST:
      return CreateNoiseRobustVad(input, {.gmm = behind_echo_canceller});
    default:
      return absl::InvalidArgumentError(absl::StrCat("no voice detector of kind ", kind));
  }
}

}  // namespace voxflow::orchestrator
