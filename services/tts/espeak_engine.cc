#include "services/tts/espeak_engine.h"

#include <espeak-ng/speak_lib.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/logging.h"

namespace voxflow::tts {
namespace {

// espeak-ng's state is global: one lock for everything that touches it.
std::mutex& EngineMutex() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}

constexpr int kDefaultWordsPerMinute = 175;
constexpr int kDefaultPitch = 50;  // espeak's 0..100 scale.

struct RenderContext {
  const PcmSink* sink;
  bool stopped = false;
};

int SynthCallback(short* wav, int samples, espeak_EVENT* events) {
  auto* context = static_cast<RenderContext*>(events->user_data);
  if (context == nullptr || context->stopped) return 1;
  if (wav != nullptr && samples > 0) {
    const absl::string_view pcm(reinterpret_cast<const char*>(wav),
                                static_cast<size_t>(samples) * sizeof(short));
    if (!(*context->sink)(pcm)) {
      context->stopped = true;
      return 1;  // Abort synthesis.
    }
  }
  return 0;
}

std::vector<v1::Voice> ListVoices(int sample_rate) {
  std::vector<v1::Voice> voices;
  const espeak_VOICE** list = espeak_ListVoices(nullptr);
  for (int i = 0; list != nullptr && list[i] != nullptr; ++i) {
    const espeak_VOICE* v = list[i];
    // mbrola voices need separately installed diphone databases.
    if (v->identifier != nullptr && absl::StartsWith(v->identifier, "mb/")) continue;
    v1::Voice voice;
    voice.set_name(v->name);
    // `languages` is a list of (priority byte, NUL-terminated name), ended by a zero byte.
    for (const char* p = v->languages; p != nullptr && *p != 0;) {
      const char* language = p + 1;
      voice.add_languages(language);
      p = language + std::strlen(language) + 1;
    }
    voice.set_gender(v->gender == 1 ? "male" : v->gender == 2 ? "female" : "");
    voice.set_native_sample_rate(sample_rate);
    voice.set_provider("espeak-ng");
    voices.push_back(std::move(voice));
  }
  return voices;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EspeakEngine>> EspeakEngine::Create(EspeakOptions options) {
  std::lock_guard<std::mutex> lock(EngineMutex());
  static int sample_rate = [] {
    // Synchronous mode: espeak_Synth returns when the text is rendered, calling back with audio
    // in 100 ms buffers as it goes.
    const int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 100, nullptr, 0);
    if (rate > 0) espeak_SetSynthCallback(SynthCallback);
    return rate;
  }();
  if (sample_rate <= 0) {
    return absl::UnavailableError("espeak-ng failed to initialise (is espeak-ng-data installed?)");
  }
  std::vector<v1::Voice> voices = ListVoices(sample_rate);
  if (voices.empty()) return absl::UnavailableError("espeak-ng lists no voices");
  return std::unique_ptr<EspeakEngine>(
      new EspeakEngine(std::move(options), sample_rate, std::move(voices)));
}

bool EspeakEngine::VariantExists(const std::string& variant) const {
  return !variant.empty() && variant.find('/') == std::string::npos &&
         std::filesystem::exists(std::filesystem::path(options_.data_dir) / "voices" / "!v" /
                                 variant);
}

absl::StatusOr<std::string> EspeakEngine::ResolveVoice(const std::string& voice,
                                                       const std::string& language) const {
  const size_t plus = voice.find('+');
  absl::StatusOr<std::string> base =
      TtsEngine::ResolveVoice(plus == std::string::npos ? voice : voice.substr(0, plus), language);
  if (!base.ok()) return base.status();
  const std::string variant = plus != std::string::npos ? voice.substr(plus + 1)
                              : voice.empty()           ? options_.default_variant
                                                        : "";
  if (variant.empty()) return *base;
  if (!VariantExists(variant)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown espeak-ng voice variant ",
                                                   QuoteClientValue(variant), " in voice ",
                                                   QuoteClientValue(voice)));
  }
  return absl::StrCat(*base, "+", variant);
}

v1::AudioStreamFormat EspeakEngine::NativeFormat(const std::string&,
                                                 const v1::AudioStreamFormat&) const {
  v1::AudioStreamFormat format;
  format.set_format(v1::PCM16);
  format.set_sample_rate(sample_rate_);
  format.set_channels(1);
  return format;
}

absl::Status EspeakEngine::Render(const RenderRequest& request, const v1::AudioStreamFormat&,
                                  const PcmSink& sink) {
  std::lock_guard<std::mutex> lock(EngineMutex());
  if (espeak_SetVoiceByName(request.voice.c_str()) != EE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("espeak-ng cannot load voice ", QuoteClientValue(request.voice)));
  }
  espeak_SetParameter(
      espeakRATE, static_cast<int>(std::lround(kDefaultWordsPerMinute * request.speaking_rate)), 0);
  // Roughly 4 pitch units per semitone around espeak's default.
  espeak_SetParameter(
      espeakPITCH,
      std::clamp(static_cast<int>(std::lround(kDefaultPitch + 4 * request.pitch_semitones)), 0,
                 100),
      0);
  RenderContext context{&sink};
  const espeak_ERROR error = espeak_Synth(request.text.c_str(), request.text.size() + 1, 0,
                                          POS_CHARACTER, 0, espeakCHARS_UTF8, nullptr, &context);
  if (context.stopped) return absl::CancelledError("rendering stopped");
  if (error != EE_OK) return absl::InternalError(absl::StrCat("espeak_Synth failed (", error, ")"));
  return absl::OkStatus();
}

}  // namespace voxflow::tts
