#include "services/orchestrator/listening/voice_activity_detector.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/audio_converter.h"
#include "webrtc/modules/audio_processing/include/audio_processing.h"
#include "webrtc/modules/interface/module_common_types.h"

namespace voxflow::orchestrator {
namespace {

constexpr int kVadRate = 16000;
constexpr size_t kBlockSamples = kVadRate / 100;  // The module works on 10 ms blocks.
constexpr int16_t kSilencePeak = 32;              // -60 dBFS.

class WebRtcVad final : public VoiceActivityDetector {
 public:
  WebRtcVad(std::unique_ptr<AudioConverter> converter, webrtc::AudioProcessing* apm)
      : converter_(std::move(converter)), apm_(apm) {}

  bool IsSpeech(absl::string_view frame) override {
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
      block_.UpdateFrame(0, 0, pending_.data() + offset, kBlockSamples, kVadRate,
                         webrtc::AudioFrame::kNormalSpeech, webrtc::AudioFrame::kVadUnknown, 1);
      if (apm_->ProcessStream(&block_) != webrtc::AudioProcessing::kNoError) continue;
      // The module keeps its last decision through blocks of digital silence (it skips them):
      // a block below -60 dBFS at every sample is not speech, whatever came before.
      int16_t peak = 0;
      for (size_t i = 0; i < kBlockSamples; ++i) {
        peak = std::max<int16_t>(peak, static_cast<int16_t>(std::abs(pending_[offset + i])));
      }
      last_ = peak > kSilencePeak && apm_->voice_detection()->stream_has_voice();
      speech |= last_;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(offset));
    // A frame shorter than a block (or resampler delay) carries the last decision on.
    return speech || (offset == 0 && last_);
  }

 private:
  const std::unique_ptr<AudioConverter> converter_;  // Null when the input is 16 kHz mono PCM16.
  const std::unique_ptr<webrtc::AudioProcessing> apm_;
  std::vector<int16_t> pending_;
  webrtc::AudioFrame block_;
  bool last_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<VoiceActivityDetector>> CreateWebRtcVad(
    const v1::AudioStreamFormat& input) {
  v1::AudioStreamFormat vad_format;
  vad_format.set_format(v1::PCM16);
  vad_format.set_sample_rate(kVadRate);
  vad_format.set_channels(1);
  std::unique_ptr<AudioConverter> converter;
  if (input.format() != v1::PCM16 || input.sample_rate() != kVadRate || input.channels() != 1) {
    auto created = AudioConverter::Create(input, vad_format);
    if (!created.ok()) return created.status();
    converter = *std::move(created);
  }
  std::unique_ptr<webrtc::AudioProcessing> apm(webrtc::AudioProcessing::Create());
  if (apm == nullptr) return absl::InternalError("webrtc AudioProcessing::Create failed");
  webrtc::VoiceDetection* vad = apm->voice_detection();
  // kVeryLowLikelihood: WebRTC's most aggressive mode. White noise up to about -25 dBFS is mostly
  // not speech while speech onsets are kept; louder noise is speech to it, which is why barge-in
  // also asks for a minimum duration (and optionally words).
  if (vad->Enable(true) != 0 ||
      vad->set_likelihood(webrtc::VoiceDetection::kVeryLowLikelihood) != 0 ||
      vad->set_frame_size_ms(10) != 0) {
    return absl::InternalError("webrtc voice detection cannot be configured");
  }
  return std::unique_ptr<VoiceActivityDetector>(new WebRtcVad(std::move(converter), apm.release()));
}

}  // namespace voxflow::orchestrator
