// tts_server: the text-to-speech service.
//
//   tts_server --provider=espeak-ng   offline synthesis (default)
//   tts_server --provider=mock        deterministic audio for tests
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mocks/mock_tts_engine.h"
#include "services/common/server.h"
#include "services/common/worker_pool.h"
#include "services/tts/espeak_engine.h"
#include "services/tts/tts_service.h"

ABSL_FLAG(int, port, 50052, "Port to listen on; 0 picks a free one (printed at start-up).");
ABSL_FLAG(std::string, provider, "espeak-ng", "Engine: espeak-ng or mock.");
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

int main(int argc, char** argv) {
  voxflow::BlockTerminationSignals();
  absl::SetProgramUsageMessage("Voxflow text-to-speech service.");
  absl::ParseCommandLine(argc, argv);

  std::unique_ptr<voxflow::tts::TtsEngine> engine;
  const std::string provider = absl::GetFlag(FLAGS_provider);
  if (provider == "mock") {
    voxflow::mocks::MockTtsOptions options;
    options.bytes_per_char = absl::GetFlag(FLAGS_mock_bytes_per_char);
    options.latency_ms = absl::GetFlag(FLAGS_mock_latency_ms);
    options.fail_rate = absl::GetFlag(FLAGS_mock_fail_rate);
    options.fail_after_chunks = absl::GetFlag(FLAGS_mock_fail_after_chunks);
    options.hang = absl::GetFlag(FLAGS_mock_hang);
    options.chunk_delay_ms = absl::GetFlag(FLAGS_mock_chunk_delay_ms);
    options.seed = absl::GetFlag(FLAGS_mock_seed);
    engine = std::make_unique<voxflow::mocks::MockTtsEngine>(options);
  } else if (provider == "espeak-ng") {
    auto espeak = voxflow::tts::EspeakEngine::Create();
    if (!espeak.ok()) {
      std::fprintf(stderr, "tts: %s\n", espeak.status().ToString().c_str());
      return 1;
    }
    engine = *std::move(espeak);
  } else {
    std::fprintf(stderr, "tts: unknown --provider '%s' (espeak-ng or mock)\n", provider.c_str());
    return 2;
  }

  const int workers = absl::GetFlag(FLAGS_workers) > 0
                          ? absl::GetFlag(FLAGS_workers)
                          : static_cast<int>(2 * std::max(1u, std::thread::hardware_concurrency()));
  voxflow::WorkerPool pool(workers);
  voxflow::ServerOptions options =
      voxflow::ServerOptionsFromFlags("tts", absl::GetFlag(FLAGS_port));
  voxflow::tts::TtsServiceOptions service_options;
  service_options.max_streams = absl::GetFlag(FLAGS_max_streams);
  service_options.max_streams_per_client = options.max_streams_per_client;
  service_options.max_unread_bytes = options.max_unread_bytes;
  service_options.max_response_bytes = static_cast<size_t>(options.max_message_bytes);
  service_options.limits.max_stream_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_max_text_bytes));
  voxflow::tts::TtsService service(engine.get(), &pool, service_options);
  options.health_services = {"voxflow.v1.TextToSpeech"};
  return voxflow::RunServerUntilSignal(options, {&service});
}
