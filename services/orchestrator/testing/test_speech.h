// Real speech for the listening tests: `text` spoken by espeak-ng in process, at espeak-ng's own
// rate (or resampled to 16 kHz). One espeak-ng for the whole test binary (it is a process-wide
// singleton).
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_TEST_SPEECH_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_TEST_SPEECH_H_

#include <espeak-ng/speak_lib.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/audio_chunk.h"
#include "services/common/audio_converter.h"

namespace voxflow::orchestrator::testing {

namespace internal {
inline std::vector<int16_t>*& SpeechSink() {
  static std::vector<int16_t>* sink = nullptr;
  return sink;
}
inline int CollectSpeech(short* wav, int samples, espeak_EVENT*) {
  if (wav != nullptr) SpeechSink()->insert(SpeechSink()->end(), wav, wav + samples);
  return 0;
}
}  // namespace internal

// PCM16 mono samples of `text`; `*rate` gets espeak-ng's sample rate (22050 Hz).
inline std::vector<int16_t> Spoken(const std::string& text, int* rate) {
  static std::mutex mu;
  static int sample_rate = 0;
  std::lock_guard<std::mutex> lock(mu);
  if (sample_rate == 0) {
    sample_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, 0);
    espeak_SetSynthCallback(internal::CollectSpeech);
  }
  std::vector<int16_t> samples;
  internal::SpeechSink() = &samples;
  espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_AUTO, nullptr,
               nullptr);
  espeak_Synchronize();
  internal::SpeechSink() = nullptr;
  *rate = sample_rate;
  return samples;
}

// `text` spoken by espeak-ng, resampled to 16 kHz mono PCM16 (bytes).
inline std::string SpokenPcm16k(const std::string& text) {
  int rate = 0;
  const std::vector<int16_t> samples = Spoken(text, &rate);
  auto converter = AudioConverter::Create(MakeStreamFormat(v1::PCM16, rate, 1),
                                          MakeStreamFormat(v1::PCM16, 16000, 1));
  if (!converter.ok()) return "";
  absl::StatusOr<std::string> pcm =
      (*converter)
          ->Convert(
              absl::string_view(reinterpret_cast<const char*>(samples.data()), samples.size() * 2));
  if (!pcm.ok()) return "";
  return *pcm + (*converter)->Flush();
}

}  // namespace voxflow::orchestrator::testing

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_TEST_SPEECH_H_
