// What stt_server and tts_server share once their flags are parsed: the providers chosen from
// the flags, one engine per provider joined by a failover engine, a worker pool for engine work
// (never gRPC's threads), and the server until a termination signal. Each main says only how to
// make one provider's engine and its service.
#ifndef VOXFLOW_SERVICES_COMMON_SPEECH_SERVER_H_
#define VOXFLOW_SERVICES_COMMON_SPEECH_SERVER_H_

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "grpcpp/impl/service_type.h"
#include "services/common/providers/provider_flags.h"
#include "services/common/server.h"
#include "services/common/worker_pool.h"

namespace voxflow {

template <typename Engine>
struct SpeechServerSpec {
  std::string name;                    // "stt": its log lines and metrics.
  std::vector<std::string> providers;  // The providers it has.
  std::string offline_provider;        // The default, and a remote provider's fallback.
  std::string default_openai_model;
  std::string health_service;  // "voxflow.v1.SpeechToText".
  int port = 0;
  int workers = 0;  // Engine worker threads; 0: twice the cores.
  // One provider's engine. INVALID_ARGUMENT: a flag is wrong (exit 2); another error: the engine
  // could not start (exit 1). Either way the message names what.
  std::function<absl::StatusOr<std::unique_ptr<Engine>>(const std::string& provider,
                                                        const ProviderSelection& selection)>
      make_engine;
  // The service over the engine; `server` holds the common flags' limits.
  std::function<std::unique_ptr<grpc::Service>(Engine* engine, WorkerPool* pool,
                                               const ServerOptions& server)>
      make_service;
};

// The rest of a speech server's main() (after absl::ParseCommandLine), returning its exit code.
// `Failover` joins the engines: Failover(engines, breaker options, clock, cores).
template <typename Engine, typename Failover>
int RunSpeechServer(const SpeechServerSpec<Engine>& spec) {
  auto fail = [&spec](const absl::Status& status, int code) {
    std::fprintf(stderr, "%s: %s\n", spec.name.c_str(), std::string(status.message()).c_str());
    return code;
  };
  absl::StatusOr<ProviderSelection> selection =
      SelectProviders(ProviderFlagsFromCommandLine(), spec.providers, spec.offline_provider,
                      spec.default_openai_model);
  if (!selection.ok()) return fail(selection.status(), 2);
  if (!selection->note.empty()) {
    std::fprintf(stderr, "%s: %s\n", spec.name.c_str(), selection->note.c_str());
  }
  std::vector<std::unique_ptr<Engine>> engines;
  for (const std::string& provider : selection->providers) {
    absl::StatusOr<std::unique_ptr<Engine>> engine = spec.make_engine(provider, *selection);
    if (!engine.ok()) {
      return fail(engine.status(),
                  engine.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1);
    }
    engines.push_back(*std::move(engine));
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Failover engine(
      std::move(engines), selection->breaker, [] { return absl::Now(); }, cores);

  WorkerPool pool(spec.workers > 0 ? spec.workers : 2 * cores);
  ServerOptions options = ServerOptionsFromFlags(spec.name, spec.port);
  options.health_services = {spec.health_service};
  options.on_stopped = [&pool] { pool.Stop(); };
  std::unique_ptr<grpc::Service> service = spec.make_service(&engine, &pool, options);
  return RunServerUntilSignal(options, {service.get()});
}

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_SPEECH_SERVER_H_
