// tts_server: the text-to-speech service.
//
//   tts_server                        offline synthesis (espeak-ng)
//   tts_server --openai_base_url=http://127.0.0.1:8880/v1 --openai_model=kokoro
//                                     an OpenAI-compatible speech server, espeak-ng as its
//                                     fallback (--providers=openai,espeak-ng)
//   tts_server --provider=mock        deterministic audio for tests
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "mocks/mock_tts_engine.h"
#include "services/common/providers/provider_flags.h"
#include "services/common/server.h"
#include "services/common/speech_server.h"
#include "services/common/worker_pool.h"
#include "services/tts/espeak_engine.h"
#include "services/tts/failover_tts_engine.h"
#include "services/tts/openai_tts_engine.h"
#include "services/tts/tts_service.h"

ABSL_FLAG(int, port, 50052, "Port to listen on; 0 picks a free one (printed at start-up).");
ABSL_FLAG(std::string, provider, "",
          "Providers in fallback order: espeak-ng (the default), openai, mock; the same as "
          "--providers.");
ABSL_FLAG(std::string, openai_voices, "",
          "openai: the voices to offer, comma-separated (empty: the server's list from "
          "GET /audio/voices, else OpenAI's).");
ABSL_FLAG(std::string, openai_voice_languages, "en-US",
          "openai: the languages its voices speak, comma-separated (BCP-47).");
ABSL_FLAG(std::string, openai_response_format, "pcm",
          "openai: pcm (24 kHz 16-bit mono, streamed) or wav (servers without pcm).");
ABSL_FLAG(int, workers, 0, "Engine worker threads (0: twice the cores).");
ABSL_FLAG(int, max_streams, 200, "Concurrent streams; more get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_text_bytes, 100000, "Text per stream or Synthesize call.");
ABSL_FLAG(int, mock_bytes_per_char, 100, "Mock: audio bytes per character.");
ABSL_FLAG(int, mock_latency_ms, 50, "Mock: delay before each sentence's audio.");
ABSL_FLAG(double, mock_fail_rate, 0, "Mock: share of renders that fail with UNAVAILABLE.");
ABSL_FLAG(int, mock_fail_after_chunks, -1, "Mock: fail each render after this many chunks.");
ABSL_FLAG(bool, mock_hang, false, "Mock: never produce audio (to exercise deadlines).");
ABSL_FLAG(int, mock_chunk_delay_ms, 0, "Mock: pause before every chunk (slowness).");
ABSL_FLAG(uint32_t, mock_seed, 42, "Mock: seed of failures.");

namespace {

// One provider's engine.
absl::StatusOr<std::unique_ptr<voxflow::tts::TtsEngine>> MakeEngine(
    const std::string& provider, const voxflow::ProviderSelection& selection) {
  if (provider == "mock") {
    voxflow::mocks::MockTtsOptions options;
    options.bytes_per_char = absl::GetFlag(FLAGS_mock_bytes_per_char);
    options.latency_ms = absl::GetFlag(FLAGS_mock_latency_ms);
    options.fail_rate = absl::GetFlag(FLAGS_mock_fail_rate);
    options.fail_after_chunks = absl::GetFlag(FLAGS_mock_fail_after_chunks);
    options.hang = absl::GetFlag(FLAGS_mock_hang);
    options.chunk_delay_ms = absl::GetFlag(FLAGS_mock_chunk_delay_ms);
    options.seed = absl::GetFlag(FLAGS_mock_seed);
    return std::make_unique<voxflow::mocks::MockTtsEngine>(options);
  }
  if (provider == "espeak-ng") {
    auto espeak = voxflow::tts::EspeakEngine::Create();
    if (!espeak.ok()) {
      return absl::FailedPreconditionError(espeak.status().ToString());  // Exit 1: not a flag.
    }
    return std::unique_ptr<voxflow::tts::TtsEngine>(*std::move(espeak));
  }
  voxflow::tts::OpenAiTtsOptions options;
  options.server = selection.openai;
  options.response_format = absl::GetFlag(FLAGS_openai_response_format);
  options.voices = absl::StrSplit(absl::GetFlag(FLAGS_openai_voices), ',', absl::SkipEmpty());
  options.languages =
      absl::StrSplit(absl::GetFlag(FLAGS_openai_voice_languages), ',', absl::SkipEmpty());
  if (options.languages.empty()) {
    return absl::InvalidArgumentError("--openai_voice_languages is empty");
  }
  auto openai = voxflow::tts::OpenAiTtsEngine::Create(std::move(options));
  if (!openai.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--openai_response_format: ", openai.status().message()));
  }
  std::fprintf(stderr, "tts: provider openai at %s, model %s, %zu voices\n",
               selection.openai.base_url.c_str(), selection.openai.model.c_str(),
               (*openai)->Voices().size());
  return std::unique_ptr<voxflow::tts::TtsEngine>(*std::move(openai));
}

}  // namespace

int main(int argc, char** argv) {
  voxflow::BlockTerminationSignals();
  absl::SetProgramUsageMessage("Voxflow text-to-speech service.");
  absl::ParseCommandLine(argc, argv);
  voxflow::SpeechServerSpec<voxflow::tts::TtsEngine> spec;
  spec.name = "tts";
  spec.providers = {"espeak-ng", "openai", "mock"};
  spec.offline_provider = "espeak-ng";
  spec.default_openai_model = "tts-1";
  spec.health_service = "voxflow.v1.TextToSpeech";
  spec.port = absl::GetFlag(FLAGS_port);
  spec.workers = absl::GetFlag(FLAGS_workers);
  spec.make_engine = MakeEngine;
  spec.make_service = [](voxflow::tts::TtsEngine* engine, voxflow::WorkerPool* pool,
                         const voxflow::ServerOptions& server) {
    voxflow::tts::TtsServiceOptions options;
    options.max_streams = absl::GetFlag(FLAGS_max_streams);
    options.max_streams_per_client = server.max_streams_per_client;
    options.max_unread_bytes = server.max_unread_bytes;
    options.max_response_bytes = static_cast<size_t>(server.max_message_bytes);
    options.limits.max_stream_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_text_bytes));
    return std::make_unique<voxflow::tts::TtsService>(engine, pool, options);
  };
  return voxflow::RunSpeechServer<voxflow::tts::TtsEngine, voxflow::tts::FailoverTtsEngine>(spec);
}
