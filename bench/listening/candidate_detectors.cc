#include "bench/listening/candidate_detectors.h"

#include <speex/speex_preprocess.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "services/common/audio_chunk.h"

namespace voxflow::bench {
namespace {

using orchestrator::NoiseRobustVadOptions;
using orchestrator::VoiceActivityDetector;

// speexdsp's preprocessor: its own noise estimate, denoising and speech probability.
class SpeexVad final : public VoiceActivityDetector {
 public:
  SpeexVad() : state_(speex_preprocess_state_init(kBlock, 16000)) {
    int on = 1;
    speex_preprocess_ctl(state_, SPEEX_PREPROCESS_SET_VAD, &on);
    speex_preprocess_ctl(state_, SPEEX_PREPROCESS_SET_DENOISE, &on);
  }
  ~SpeexVad() override { speex_preprocess_state_destroy(state_); }

  bool IsSpeech(absl::string_view frame) override {
    bool speech = false;
    for (size_t at = 0; at + kBlock * 2 <= frame.size(); at += kBlock * 2) {
      std::memcpy(block_, frame.data() + at, kBlock * 2);
      speech |= speex_preprocess_run(state_, block_) != 0;
    }
    return speech;
  }

 private:
  static constexpr int kBlock = 160;
  SpeexPreprocessState* state_;
  spx_int16_t block_[kBlock];
};

CandidateFactory Robust(NoiseRobustVadOptions options) {
  return [options] {
    return *orchestrator::CreateNoiseRobustVad(MakeStreamFormat(v1::PCM16, 16000, 1), options);
  };
}

}  // namespace

std::vector<Candidate> AllCandidates(const orchestrator::NoiseRobustVadOptions& robust) {
  std::vector<Candidate> out;
  out.push_back(
      {"gmm", "WebRTC's GMM detector alone (kVeryLowLikelihood): the detector until now",
       [] { return *orchestrator::CreateWebRtcVad(MakeStreamFormat(v1::PCM16, 16000, 1)); }});
  // The robust detector's parts, one at a time over noise suppression and the GMM.
  NoiseRobustVadOptions ns_only = robust;
  ns_only.gmm = true;
  ns_only.floor_snr_db = 0;
  ns_only.min_harmonicity = 0;
  ns_only.foreground_margin_db = 0;
  out.push_back(
      {"ns+gmm", "WebRTC noise suppression (high) ahead of the GMM detector", Robust(ns_only)});
  NoiseRobustVadOptions floor_only = ns_only;
  floor_only.floor_snr_db = robust.floor_snr_db;
  out.push_back(
      {"ns+gmm+floor", "... and the level over the adaptive noise floor", Robust(floor_only)});
  NoiseRobustVadOptions pitch_only = ns_only;
  pitch_only.min_harmonicity = robust.min_harmonicity;
  out.push_back({"ns+gmm+pitch", "... and a pitch", Robust(pitch_only)});
  NoiseRobustVadOptions no_foreground = robust;
  no_foreground.gmm = true;
  no_foreground.foreground_margin_db = 0;
  out.push_back({"robust-no-foreground", "noise suppression, GMM, noise floor and pitch",
                 Robust(no_foreground)});
  NoiseRobustVadOptions with_gmm = robust;
  with_gmm.gmm = true;
  out.push_back(
      {"robust+gmm", "... and the caller's level over background voices", Robust(with_gmm)});
  out.push_back({"robust", "the same without the GMM (the defaults)", Robust(robust)});
  NoiseRobustVadOptions no_ns = robust;
  no_ns.noise_suppression = -1;
  out.push_back({"robust-no-ns", "the robust detector without noise suppression", Robust(no_ns)});
  out.push_back({"speex", "speexdsp's preprocessor (denoise + VAD)",
                 [] { return std::unique_ptr<VoiceActivityDetector>(new SpeexVad()); }});
  return out;
}

}  // namespace voxflow::bench
