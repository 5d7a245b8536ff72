#include "tests/util/fixtures.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "mocks/mock_tts_engine.h"
#include "services/orchestrator/llm_client.h"

namespace voxflow::testing {

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
