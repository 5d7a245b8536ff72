// orchestrator_server: runs conversations (the stage DAG) over the STT and TTS services.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/backend.h"
#include "services/common/redis/redis_client.h"
#include "services/common/redis/redis_subscriber.h"
#include "services/common/security.h"
#include "services/common/server.h"
#include "services/common/worker_pool.h"
#include "services/orchestrator/conversation_memory.h"
#include "services/orchestrator/fallback_memory.h"
#include "services/orchestrator/live_sessions.h"
#include "services/orchestrator/llm/llm_provider.h"
#include "services/orchestrator/orchestrator_service.h"
#include "services/orchestrator/pipeline/pipeline_registry.h"
#include "services/orchestrator/pipeline/pipeline_spec_loader.h"
#include "services/orchestrator/redis_memory.h"
#include "services/orchestrator/resumption/redis_session_state_store.h"
#include "services/orchestrator/resumption/resumption.h"
#include "services/orchestrator/stages/conversation_stages.h"
#include "services/orchestrator/voice_catalog.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(int, port, 50050, "Port to listen on; 0 picks a free one (printed at start-up).");
ABSL_FLAG(std::string, pipelines_dir, "",
          "Directory of *.textproto PipelineSpecs to serve besides the built-in voice_chat.");
ABSL_FLAG(std::string, stt_target, "dns:///127.0.0.1:50051",
          "gRPC target of the STT service; dns:/// names are balanced round_robin over every "
          "address.");
ABSL_FLAG(std::string, tts_target, "dns:///127.0.0.1:50052", "gRPC target of the TTS service.");
ABSL_FLAG(int, backend_connect_timeout_ms, 2000,
          "How long a stage waits for an unreachable backend before the attempt fails.");
ABSL_FLAG(std::string, backend_tls_ca, "",
          "PEM CA to verify the STT and TTS services with: talk to them over TLS.");
ABSL_FLAG(std::string, backend_tls_cert, "",
          "PEM client certificate for the backends (mutual TLS, with --backend_tls_key).");
ABSL_FLAG(std::string, backend_tls_key, "", "PEM private key of --backend_tls_cert.");
ABSL_FLAG(std::string, backend_auth_token_file, "",
          "File holding the bearer token sent to the backends (needs --backend_tls_ca).");
ABSL_FLAG(absl::Duration, max_session_duration, absl::ZeroDuration(),
          "A conversation longer than this ends with DEADLINE_EXCEEDED (0: no limit).");
ABSL_FLAG(int, workers, 0, "Threads for request handling (0: the number of cores).");
ABSL_FLAG(int, max_sessions, 1000, "Concurrent conversations; more get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, output_lead_ms, 60, "How far ahead of real time reply audio is sent.");
ABSL_FLAG(absl::Duration, session_idle_timeout, absl::Minutes(10),
          "A conversation that sends nothing for this long while no turn runs ends with "
          "DEADLINE_EXCEEDED (0: never).");
ABSL_FLAG(int, endpointing_silence_ms, 500,
          "Default non-speech after the user's speech that ends their utterance (the session may "
          "set config.endpointing.silence_ms).");
ABSL_FLAG(int, endpointing_min_speech_ms, 150,
          "Default speech an utterance needs to start a turn (shorter sounds start none).");
ABSL_FLAG(int, endpointing_max_utterance_ms, 20000, "Default longest utterance; cut there.");
ABSL_FLAG(std::string, voice_detector, "noise_robust",
          "Default voice activity detector: noise_robust (ignores steady noise, bursts and quieter "
          "background voices) or webrtc (WebRTC's GMM detector alone; cheaper).");
ABSL_FLAG(std::string, echo_cancellation, "off",
          "Default server-side echo cancellation (SessionConfig.echo_cancellation): off, auto "
          "(from when the reply's echo is found in the caller's audio; phone-line input from the "
          "start) or on. Mono PCM16/G.711 input at 8, 16, 32 or 48 kHz.");
ABSL_FLAG(bool, barge_in, true, "Default: the user's voice over a reply may interrupt it.");
ABSL_FLAG(int, barge_in_min_speech_ms, 400,
          "Default speech over a reply that interrupts it (shorter sounds pause it, then it "
          "resumes).");
ABSL_FLAG(int, barge_in_min_words, 0,
          "Default recognised words the speech over a reply also needs to interrupt (0: none).");
ABSL_FLAG(int, barge_in_timeout_ms, 1500,
          "Default time a reply paused by voice waits for the speech to be confirmed.");

ABSL_FLAG(std::string, session_store, "",
          "Where sessions are kept between turns, to resume on any replica: redis://HOST:PORT "
          "(conversation memory and turn numbering shared by every replica; a store that is down "
          "is worked around in process, with a warning). Empty: in process (a session's memory "
          "ends with its stream).");
ABSL_FLAG(absl::Duration, session_ttl, absl::Hours(1),
          "With --session_store: how long an ended or moved session is kept for resumption after "
          "its last turn.");
ABSL_FLAG(std::string, resume_key_file, "",
          "File holding the key (16+ bytes) that signs resume tokens; every replica must share "
          "it. Empty: a random key (tokens only this process accepts).");
ABSL_FLAG(absl::Duration, resume_token_ttl, absl::Hours(24), "How long a resume token is valid.");
ABSL_FLAG(absl::Duration, move_bound, absl::Seconds(30),
          "On SIGTERM, sessions whose client follows moves are moved to another replica at their "
          "next turn boundary, or after this long at the latest (keep --drain_timeout longer).");

ABSL_FLAG(std::string, llm_provider, "",
          "For pipelines whose llm stage names no provider: rule (the built-in rule model) or "
          "openai. Empty: rule.");
ABSL_FLAG(std::string, llm_base_url, "",
          "With --llm_provider=openai: the OpenAI-compatible server, e.g. "
          "http://127.0.0.1:11434/v1 (Ollama).");
ABSL_FLAG(std::string, llm_model, "", "With --llm_provider=openai: the model name.");
ABSL_FLAG(std::string, llm_api_key_file, "",
          "With --llm_provider=openai: a file holding the API key (never logged).");
ABSL_FLAG(std::string, llm_ca_file, "",
          "With --llm_provider=openai over HTTPS: a CA bundle (PEM) to trust instead of the "
          "system's.");
ABSL_FLAG(std::string, llm_system_prompt, "", "Default system prompt of llm stages.");
ABSL_FLAG(std::string, llm_fallback_reply,
          "Sorry, I cannot answer right now. Please try again in a moment.",
          "Default reply spoken when the model cannot be reached (empty: none; the turn fails).");
ABSL_FLAG(std::string, llm_tool_timeout_ms, "",
          "Default time a tool call waits for the caller's ToolResult (100..120000; empty: "
          "10000).");

namespace {

// This process in session owner strings (logs, takeovers): the pod's name and the process id.
std::string ReplicaName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "orchestrator", ":", getpid());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace voxflow::orchestrator;  // NOLINT: a main file.
  using voxflow::Backend;
  using voxflow::BackendOptions;
  voxflow::BlockTerminationSignals();
  absl::SetProgramUsageMessage("Voxflow orchestrator: voice conversations over STT and TTS.");
  absl::ParseCommandLine(argc, argv);

  std::vector<voxflow::v1::PipelineSpec> specs = {DefaultPipelineSpec()};
  if (const std::string dir = absl::GetFlag(FLAGS_pipelines_dir); !dir.empty()) {
    auto loaded = LoadPipelineSpecDir(dir);
    if (!loaded.ok()) {
      std::fprintf(stderr, "orchestrator: --pipelines_dir: %s\n",
                   loaded.status().ToString().c_str());
      return 2;
    }
    specs.insert(specs.end(), loaded->begin(), loaded->end());
  }
  std::map<std::string, std::string> llm_flags = {
      {"provider", absl::GetFlag(FLAGS_llm_provider)},
      {"base_url", absl::GetFlag(FLAGS_llm_base_url)},
      {"model", absl::GetFlag(FLAGS_llm_model)},
      {"api_key_file", absl::GetFlag(FLAGS_llm_api_key_file)},
      {"ca_file", absl::GetFlag(FLAGS_llm_ca_file)},
      {"system_prompt", absl::GetFlag(FLAGS_llm_system_prompt)},
      {"fallback_reply", absl::GetFlag(FLAGS_llm_fallback_reply)},
      {"tool_timeout_ms", absl::GetFlag(FLAGS_llm_tool_timeout_ms)}};
  std::string llm_note;
  absl::StatusOr<std::string> llm_provider = ChooseLlmProvider(llm_flags, &llm_note);
  if (!llm_provider.ok()) {
    std::fprintf(stderr, "orchestrator: %s\n",
                 std::string(llm_provider.status().message()).c_str());
    return 2;
  }
  if (!llm_note.empty()) std::fprintf(stderr, "orchestrator: %s\n", llm_note.c_str());
  llm_flags["provider"] = *llm_provider;
  if (absl::Status s = ApplyLlmDefaults(llm_flags, specs); !s.ok()) {
    std::fprintf(stderr, "orchestrator: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  absl::StatusOr<PipelineRegistry> pipelines = PipelineRegistry::Create(specs, BuiltInStageTypes());
  if (!pipelines.ok()) {
    std::fprintf(stderr, "orchestrator: %s\n", pipelines.status().ToString().c_str());
    return 2;
  }
  std::fprintf(stderr, "orchestrator: pipelines: %s\n",
               absl::StrJoin(pipelines->Names(), ", ").c_str());

  BackendOptions backend_options;
  backend_options.connect_timeout =
      absl::Milliseconds(absl::GetFlag(FLAGS_backend_connect_timeout_ms));
  voxflow::ClientSecurity backend_security;
  backend_security.tls_ca_file = absl::GetFlag(FLAGS_backend_tls_ca);
  backend_security.tls_cert_file = absl::GetFlag(FLAGS_backend_tls_cert);
  backend_security.tls_key_file = absl::GetFlag(FLAGS_backend_tls_key);
  backend_security.auth_token_file = absl::GetFlag(FLAGS_backend_auth_token_file);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> backend_credentials =
      voxflow::MakeChannelCredentials(backend_security);
  if (!backend_credentials.ok()) {
    std::fprintf(stderr, "orchestrator: backend TLS: %s\n",
                 std::string(backend_credentials.status().message()).c_str());
    return 2;
  }
  backend_options.credentials = *backend_credentials;
  Backend stt("stt", absl::GetFlag(FLAGS_stt_target), backend_options);
  Backend tts("tts", absl::GetFlag(FLAGS_tts_target), backend_options);
  // Sessions and their memory: in process, or shared through Redis.
  std::string resume_key = voxflow::orchestrator::ResumeTokens::RandomKey();
  if (const std::string path = absl::GetFlag(FLAGS_resume_key_file); !path.empty()) {
    absl::StatusOr<std::string> key = ResumeTokens::ReadKey(path, "--resume_key_file");
    if (!key.ok()) {
      std::fprintf(stderr, "orchestrator: %s\n", std::string(key.status().message()).c_str());
      return 2;
    }
    resume_key = *std::move(key);
  }
  // One outage of the store, one warning, whichever of its users finds out first.
  voxflow::StoreOutage store_outage(
      [](const std::string& warning) { spdlog::warn("{}", warning); });
  std::unique_ptr<voxflow::RedisClient> redis;
  std::unique_ptr<ConversationMemory> memory = std::make_unique<InProcessMemory>();
  std::unique_ptr<SessionStateStore> shared_records;
  if (const std::string url = absl::GetFlag(FLAGS_session_store); !url.empty()) {
    absl::StatusOr<voxflow::RedisAddress> address = voxflow::ParseRedisUrl(url, "--session_store");
    if (!address.ok()) {
      std::fprintf(stderr, "orchestrator: %s\n", std::string(address.status().message()).c_str());
      return 2;
    }
    if (absl::GetFlag(FLAGS_resume_key_file).empty()) {
      std::fprintf(stderr,
                   "orchestrator: --session_store without --resume_key_file: sessions resume "
                   "only on this replica\n");
    }
    redis = std::make_unique<voxflow::RedisClient>(*address, voxflow::RedisClient::Options{});
    const absl::Duration ttl = absl::GetFlag(FLAGS_session_ttl);
    memory = std::make_unique<FallbackMemory>(std::make_unique<RedisMemory>(redis.get(), ttl),
                                              &store_outage);
    shared_records = std::make_unique<RedisSessionStateStore>(redis.get(), ttl);
    std::fprintf(stderr, "orchestrator: sessions are kept in redis at %s\n",
                 address->ToString().c_str());
  }
  auto voices = std::make_shared<VoiceCatalog>();
  KeepVoiceCatalogFresh(voices, &tts, &voxflow::TimerQueue::Default());
  // Sessions are checked against the voices from the start when the TTS backend is up; if it is
  // not, serve anyway (the tts stage reports) and check once it answers.
  if (!voices->WaitUntilKnown(backend_options.connect_timeout)) {
    std::fprintf(stderr,
                 "orchestrator: tts backend %s did not list its voices yet: config.voice and "
                 "config.language are checked once it does\n",
                 tts.target().c_str());
  }

  LiveSessions live_sessions;
  Resumption resumption(ResumeTokens(resume_key, absl::GetFlag(FLAGS_resume_token_ttl)),
                        &live_sessions, std::move(shared_records), ReplicaName(), &store_outage);
  std::unique_ptr<voxflow::RedisSubscriber> takeovers;
  if (redis != nullptr) {
    // A session resumed on another replica ends here at once.
    takeovers = std::make_unique<voxflow::RedisSubscriber>(
        redis->address(), RedisSessionStateStore::kTakeOverChannel,
        [&resumption](const std::string& message) { resumption.OnTakeOverMessage(message); });
  }
  SessionServices services;
  services.resumption = &resumption;
  services.options.move_bound = absl::GetFlag(FLAGS_move_bound);
  services.options.idle_timeout = absl::GetFlag(FLAGS_session_idle_timeout);
  services.stt = &stt;
  services.tts = &tts;
  services.voices = voices.get();
  services.memory = memory.get();
  services.pipelines = &*pipelines;
  services.options.output_lead_ms = absl::GetFlag(FLAGS_output_lead_ms);
  services.options.max_session_duration = absl::GetFlag(FLAGS_max_session_duration);
  services.options.endpointing.silence_ms = absl::GetFlag(FLAGS_endpointing_silence_ms);
  services.options.endpointing.min_speech_ms = absl::GetFlag(FLAGS_endpointing_min_speech_ms);
  services.options.endpointing.max_utterance_ms = absl::GetFlag(FLAGS_endpointing_max_utterance_ms);
  const std::string detector = absl::GetFlag(FLAGS_voice_detector);
  if (detector == "webrtc") {
    services.options.voice_detector = voxflow::v1::VOICE_DETECTOR_WEBRTC;
  } else if (detector == "noise_robust") {
    services.options.voice_detector = voxflow::v1::VOICE_DETECTOR_NOISE_ROBUST;
  } else {
    std::fprintf(stderr, "orchestrator: --voice_detector=%s: expected noise_robust or webrtc\n",
                 detector.c_str());
    return 2;
  }
  const std::string echo = absl::GetFlag(FLAGS_echo_cancellation);
  if (echo == "on") {
    services.options.echo_cancellation = voxflow::v1::ECHO_CANCELLATION_ON;
  } else if (echo == "off") {
    services.options.echo_cancellation = voxflow::v1::ECHO_CANCELLATION_OFF;
  } else if (echo == "auto") {
    services.options.echo_cancellation = voxflow::v1::ECHO_CANCELLATION_AUTO;
  } else {
    std::fprintf(stderr, "orchestrator: --echo_cancellation=%s: expected auto, on or off\n",
                 echo.c_str());
    return 2;
  }
  services.options.barge_in.enabled = absl::GetFlag(FLAGS_barge_in);
  services.options.barge_in.min_speech_ms = absl::GetFlag(FLAGS_barge_in_min_speech_ms);
  services.options.barge_in.min_words = absl::GetFlag(FLAGS_barge_in_min_words);
  services.options.barge_in.timeout_ms = absl::GetFlag(FLAGS_barge_in_timeout_ms);

  int workers = absl::GetFlag(FLAGS_workers);
  if (workers <= 0) workers = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  voxflow::WorkerPool pool(workers);
  services.stage_executor =
      &pool;  // Stages start where requests are handled: no pool of their own.
  voxflow::ServerOptions options =
      voxflow::ServerOptionsFromFlags("orchestrator", absl::GetFlag(FLAGS_port));
  OrchestratorService service(services, &pool,
                              {.max_sessions = absl::GetFlag(FLAGS_max_sessions),
                               .max_sessions_per_client = options.max_streams_per_client,
                               .max_unread_bytes = options.max_unread_bytes});
  options.health_services = {"voxflow.v1.Orchestrator"};
  // Draining: every session whose client follows moves goes to another replica at its next
  // turn boundary; the others drain as before.
  options.on_terminating = [&live_sessions] { live_sessions.MoveAll(); };
  options.on_stopped = [&pool] { pool.Stop(); };
  return voxflow::RunServerUntilSignal(options, {&service});
}
