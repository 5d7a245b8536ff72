// stt_server: the speech-to-text service.
//
//   stt_server                                    offline recognition (pocketsphinx)
//   stt_server --openai_base_url=http://127.0.0.1:8000/v1 --openai_model=M
//                                                 an OpenAI-compatible server, pocketsphinx
//                                                 as its fallback (--providers=openai,pocketsphinx)
//   stt_server --provider=mock --mock_transcriptions='hello there|how are you'
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "mocks/mock_stt_engine.h"
#include "services/common/providers/provider_flags.h"
#include "services/common/server.h"
#include "services/common/speech_server.h"
#include "services/common/worker_pool.h"
#include "services/stt/failover_stt_engine.h"
#include "services/stt/openai_stt_engine.h"
#include "services/stt/pocketsphinx_engine.h"
#include "services/stt/stt_service.h"

ABSL_FLAG(int, port, 50051, "Port to listen on; 0 picks a free one (printed at start-up).");
ABSL_FLAG(std::string, provider, "",
          "Providers in fallback order: pocketsphinx (the default), openai, mock; the same as "
          "--providers.");
ABSL_FLAG(int, workers, 0, "Engine worker threads (0: twice the cores).");
ABSL_FLAG(int, max_streams, 200, "Concurrent streams; more get RESOURCE_EXHAUSTED.");
ABSL_FLAG(std::string, model_dir, "/usr/share/pocketsphinx/model/en-us", "pocketsphinx model.");
ABSL_FLAG(std::string, mock_transcriptions, "Mock transcription",
          "Mock: transcriptions returned in turn, separated by '|'.");
ABSL_FLAG(std::string, mock_audio_map, "",
          "Mock: 'HASH=text|HASH=text', audio hash (first 16 hex of the MD5 of an utterance's "
          "PCM) to its transcription.");
ABSL_FLAG(int, openai_max_audio_s, 600,
          "openai: longest audio in one transcription request; a longer utterance is cut at "
          "silences (OpenAI takes files up to 25 MB: 819 s of 16 kHz audio).");
ABSL_FLAG(std::string, openai_response_format, "verbose_json",
          "openai: verbose_json (word timings; json when the server refuses it) or json.");
ABSL_FLAG(bool, openai_stream, true,
          "openai: ask for stream=true when a stream wants interim results.");
ABSL_FLAG(int, mock_latency_ms, 100, "Mock: delay of each final result.");
ABSL_FLAG(int, mock_latency_jitter_ms, 20, "Mock: ± jitter of that delay.");
ABSL_FLAG(double, mock_fail_rate, 0, "Mock: share of streams that fail with UNAVAILABLE.");
ABSL_FLAG(int, mock_fail_after_chunks, -1, "Mock: fail on this audio chunk (-1: never).");
ABSL_FLAG(bool, mock_hang, false, "Mock: never answer (to exercise deadlines).");
ABSL_FLAG(int, mock_chunk_delay_ms, 0, "Mock: pause on every chunk (slowness).");
ABSL_FLAG(int, mock_interim_every_ms, 200, "Mock: one more interim word per this much audio.");
ABSL_FLAG(uint32_t, mock_seed, 42, "Mock: seed of latency, confidence and failures.");

namespace {

absl::StatusOr<std::unique_ptr<voxflow::stt::SttEngine>> MockEngineFromFlags() {
  voxflow::mocks::MockSttOptions options;
  options.transcriptions = absl::StrSplit(absl::GetFlag(FLAGS_mock_transcriptions), '|');
  for (absl::string_view entry :
       absl::StrSplit(absl::GetFlag(FLAGS_mock_audio_map), '|', absl::SkipEmpty())) {
    const std::pair<std::string, std::string> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    if (kv.first.size() != 16 || kv.second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mock_audio_map entry '", entry, "' is not HASH=text"));
    }
    options.audio_map[kv.first] = kv.second;
  }
  options.latency_ms = absl::GetFlag(FLAGS_mock_latency_ms);
  options.latency_jitter_ms = absl::GetFlag(FLAGS_mock_latency_jitter_ms);
  options.fail_rate = absl::GetFlag(FLAGS_mock_fail_rate);
  options.fail_after_chunks = absl::GetFlag(FLAGS_mock_fail_after_chunks);
  options.hang = absl::GetFlag(FLAGS_mock_hang);
  options.chunk_delay_ms = absl::GetFlag(FLAGS_mock_chunk_delay_ms);
  options.interim_every_ms = absl::GetFlag(FLAGS_mock_interim_every_ms);
  options.seed = absl::GetFlag(FLAGS_mock_seed);
  return std::make_unique<voxflow::mocks::MockSttEngine>(options);
}

// One provider's engine.
absl::StatusOr<std::unique_ptr<voxflow::stt::SttEngine>> MakeEngine(
    const std::string& provider, const voxflow::ProviderSelection& selection) {
  if (provider == "mock") return MockEngineFromFlags();
  if (provider == "pocketsphinx") {
    voxflow::stt::PocketsphinxOptions options;
    options.model_dir = absl::GetFlag(FLAGS_model_dir);
    absl::StatusOr<std::unique_ptr<voxflow::stt::PocketsphinxEngine>> engine =
        voxflow::stt::PocketsphinxEngine::Create(options);
    if (!engine.ok()) {
      return absl::FailedPreconditionError(engine.status().ToString());  // Exit 1: not a flag.
    }
    return std::unique_ptr<voxflow::stt::SttEngine>(*std::move(engine));
  }
  voxflow::stt::OpenAiSttOptions options;
  options.server = selection.openai;
  options.response_format = absl::GetFlag(FLAGS_openai_response_format);
  if (options.response_format != "verbose_json" && options.response_format != "json") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--openai_response_format: '", options.response_format, "' is not verbose_json or json"));
  }
  options.stream = absl::GetFlag(FLAGS_openai_stream);
  options.max_audio_s = absl::GetFlag(FLAGS_openai_max_audio_s);
  if (options.max_audio_s < 1 || options.max_audio_s > 1500) {
    return absl::InvalidArgumentError(
        absl::StrCat("--openai_max_audio_s: ", options.max_audio_s, " is not in 1..1500"));
  }
  std::fprintf(stderr, "stt: provider openai at %s, model %s\n", options.server.base_url.c_str(),
               options.server.model.c_str());
  return std::make_unique<voxflow::stt::OpenAiSttEngine>(std::move(options));
}

}  // namespace

int main(int argc, char** argv) {
  voxflow::BlockTerminationSignals();
  absl::SetProgramUsageMessage("Voxflow speech-to-text service.");
  absl::ParseCommandLine(argc, argv);
  voxflow::SpeechServerSpec<voxflow::stt::SttEngine> spec;
  spec.name = "stt";
  spec.providers = {"pocketsphinx", "openai", "mock"};
  spec.offline_provider = "pocketsphinx";
  spec.default_openai_model = "whisper-1";
  spec.health_service = "voxflow.v1.SpeechToText";
  spec.port = absl::GetFlag(FLAGS_port);
  spec.workers = absl::GetFlag(FLAGS_workers);
  spec.make_engine = MakeEngine;
  spec.make_service = [](voxflow::stt::SttEngine* engine, voxflow::WorkerPool* pool,
                         const voxflow::ServerOptions& server) {
    voxflow::stt::SttServiceOptions options;
    options.max_streams = absl::GetFlag(FLAGS_max_streams);
    options.max_streams_per_client = server.max_streams_per_client;
    options.max_unread_bytes = server.max_unread_bytes;
    return std::make_unique<voxflow::stt::SttService>(engine, pool, options);
  };
  return voxflow::RunSpeechServer<voxflow::stt::SttEngine, voxflow::stt::FailoverSttEngine>(spec);
}
