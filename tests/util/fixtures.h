// Small helpers the cross-process tests share: temporary paths, servers started or reported,
// test audio, and the mock TTS audio a reply should come back as.
#ifndef VOXFLOW_TESTS_UTIL_FIXTURES_H_
#define VOXFLOW_TESTS_UTIL_FIXTURES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/util/server_process.h"
#include "voxflow/v1/audio.pb.h"

namespace voxflow::testing {

// `name` in the test's TEST_TMPDIR (/tmp outside Bazel).
std::string TempPath(const std::string& name);

// `path` resolved (symlinks followed), or as it is when it does not exist.
std::string RealPath(const std::string& path);
// Why the npm modules are missing ("" when they are there): without the npm registry, @npm is
// made empty with the reason (bazel/npm_modules.bzl), and the Node client tests are skipped, not
// failed. Also sets NODE_PATH to the modules when they are there.
std::string NpmUnavailable();

// A PipelineSpec (textproto) named `name` whose rule model says which exchange it is and what the
// caller said before it ("This is turn {turn}; before it you said {previous}."): the reply shows
// the memory the turn was given.
std::string RememberingPipelineSpec(const std::string& name);

// ServerProcess::Start, with a test failure (and null) when the server does not come up.
std::unique_ptr<ServerProcess> StartServer(const std::string& binary,
                                           const std::vector<std::string>& args);

// An STT service, a TTS service and an orchestrator using them, each a real process started
// with its own flags (the orchestrator also gets --stt_target and --tts_target).
struct VoiceStack {
  std::unique_ptr<ServerProcess> stt, tts, orchestrator;
  // False (after a test failure) when one of them did not come up.
  bool ok() const { return stt != nullptr && tts != nullptr && orchestrator != nullptr; }
};
VoiceStack StartVoiceStack(const std::vector<std::string>& stt_flags,
                           const std::vector<std::string>& tts_flags,
                           const std::vector<std::string>& orchestrator_flags = {});

// `ms` of a `hz` sine at `amplitude` (of 32767) as PCM16, the same sample in every channel.
std::string TonePcm16(int sample_rate, int channels, int ms, double hz, int amplitude);

// `text` spoken by espeak-ng (in-process), as 16 kHz mono PCM16: real speech for the voice
// activity detector, without a TTS service.
std::string SpeechPcm16k(const std::string& text);
// `ms` of white noise at `dbfs` (RMS), 16 kHz mono PCM16, from `seed`.
std::string WhiteNoisePcm16k(int ms, double dbfs, uint32_t seed);
// `ms` of digital silence, 16 kHz mono PCM16.
std::string SilencePcm16k(int ms);

// The mock TTS audio of `reply` as the tts stage renders it: one render per sentence.
std::string MockReplyAudio(const std::string& reply, int bytes_per_char,
                           const v1::AudioStreamFormat& format);

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_FIXTURES_H_
