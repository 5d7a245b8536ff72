#include "tests/util/fixtures.h"

#include <espeak-ng/speak_lib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mocks/mock_tts_engine.h"
#include "services/common/audio_converter.h"
#include "services/orchestrator/llm_client.h"

namespace voxflow::testing {

std::string RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) != nullptr ? resolved : path;
}

std::string RememberingPipelineSpec(const std::string& name) {
  return absl::StrCat("name: \"", name, "\"\n", R"spec(
stages { name: "stt" kind: TRANSFORM type: "stt" }
stages { name: "prefetch_memory" kind: ENRICH type: "memory_fetch" }
stages {
  name: "llm" kind: AGENT type: "llm" depends_on: "stt" depends_on: "prefetch_memory"
  parameters { key: "default" value: "This is turn {turn}; before it you said {previous}." }
}
stages { name: "tts" kind: TRANSFORM type: "tts" depends_on: "llm" streams_from: "llm" }
stages { name: "save_memory" kind: WORK type: "memory_write" depends_on: "llm" }
)spec");
}

std::string NpmUnavailable() {
  std::ifstream file(RealPath("../npm/NPM_UNAVAILABLE"));
  std::string reason;
  std::getline(file, reason);
  if (reason.empty()) setenv("NODE_PATH", RealPath("../npm/node_modules").c_str(), 1);
  return reason;
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

std::unique_ptr<ServerProcess> StartServer(const std::string& binary,
                                           const std::vector<std::string>& args) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> process = ServerProcess::Start(binary, args);
  EXPECT_TRUE(process.ok()) << process.status();
  return process.ok() ? *std::move(process) : nullptr;
}

VoiceStack StartVoiceStack(const std::vector<std::string>& stt_flags,
                           const std::vector<std::string>& tts_flags,
                           const std::vector<std::string>& orchestrator_flags) {
  VoiceStack stack;
  stack.stt = StartServer("services/stt/stt_server", stt_flags);
  stack.tts = StartServer("services/tts/tts_server", tts_flags);
  if (stack.stt == nullptr || stack.tts == nullptr) return stack;
  std::vector<std::string> flags = {absl::StrCat("--stt_target=", stack.stt->address()),
                                    absl::StrCat("--tts_target=", stack.tts->address())};
  flags.insert(flags.end(), orchestrator_flags.begin(), orchestrator_flags.end());
  stack.orchestrator = StartServer("services/orchestrator/orchestrator_server", flags);
  return stack;
}

namespace {

std::vector<int16_t>* espeak_samples = nullptr;

int CollectSpeech(short* wav, int samples, espeak_EVENT*) {
  if (wav != nullptr) espeak_samples->insert(espeak_samples->end(), wav, wav + samples);
  return 0;
}

}  // namespace

std::string SpeechPcm16k(const std::string& text) {
  static std::mutex mu;
  static int rate = 0;
  std::lock_guard<std::mutex> lock(mu);
  if (rate == 0) {
    rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, 0);
    espeak_SetSynthCallback(CollectSpeech);
  }
  std::vector<int16_t> samples;
  espeak_samples = &samples;
  espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_AUTO, nullptr,
               nullptr);
  espeak_Synchronize();
  // Without espeak-ng's silence around the words: the clip ends with its last sound.
  auto loud = [](int16_t v) { return std::abs(v) > 100; };
  const auto first = std::find_if(samples.begin(), samples.end(), loud);
  const auto last = std::find_if(samples.rbegin(), samples.rend(), loud).base();
  samples = first < last ? std::vector<int16_t>(first, last) : std::vector<int16_t>();
  v1::AudioStreamFormat from;
  from.set_format(v1::PCM16);
  from.set_sample_rate(rate);
  from.set_channels(1);
  v1::AudioStreamFormat to = from;
  to.set_sample_rate(16000);
  auto converter = AudioConverter::Create(from, to);
  EXPECT_TRUE(converter.ok()) << converter.status();
  std::string pcm = *(*converter)
                         ->Convert(absl::string_view(reinterpret_cast<const char*>(samples.data()),
                                                     samples.size() * 2));
  pcm += (*converter)->Flush();
  return pcm;
}

std::string WhiteNoisePcm16k(int ms, double dbfs, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal(0, 32767 * std::pow(10, dbfs / 20));
  std::string pcm;
  for (int i = 0; i < 16 * ms; ++i) {
    const auto v = static_cast<int16_t>(std::clamp(normal(gen), -32767.0, 32767.0));
    pcm.append(reinterpret_cast<const char*>(&v), 2);
  }
  return pcm;
}

std::string SilencePcm16k(int ms) { return std::string(static_cast<size_t>(32 * ms), '\0'); }

std::string TonePcm16(int sample_rate, int channels, int ms, double hz, int amplitude) {
  std::string pcm;
  const auto frames = static_cast<int>(int64_t{sample_rate} * ms / 1000);
  for (int i = 0; i < frames; ++i) {
    const auto v = static_cast<int16_t>(amplitude * std::sin(2 * M_PI * hz * i / sample_rate));
    for (int c = 0; c < channels; ++c) pcm.append(reinterpret_cast<const char*>(&v), 2);
  }
  return pcm;
}

std::string MockReplyAudio(const std::string& reply, int bytes_per_char,
                           const v1::AudioStreamFormat& format) {
  orchestrator::SentenceSplitter splitter;
  std::vector<std::string> sentences = splitter.Append(reply);
  if (std::string rest = splitter.Flush(); !rest.empty()) sentences.push_back(rest);
  std::string audio;
  for (const std::string& sentence : sentences) {
    audio += mocks::MockTtsEngine::AudioFor(sentence, bytes_per_char, format);
  }
  return audio;
}

}  // namespace voxflow::testing
