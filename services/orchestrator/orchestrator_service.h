// The voxflow.v1.Orchestrator gRPC service: a thin reactor per Converse stream over a
// ConverseSession, which holds the logic.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_

#include <atomic>
#include <cstdint>

#include "services/common/stream_reactor.h"
#include "services/common/worker_pool.h"
#include "services/orchestrator/converse_session.h"
#include "services/orchestrator/session_ticker.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

namespace voxflow::orchestrator {

struct OrchestratorServiceOptions {
  int max_sessions = 1000;  // Concurrent Converse streams; more get RESOURCE_EXHAUSTED.
};

class OrchestratorService final : public v1::Orchestrator::CallbackService {
 public:
  // `services`' pointers and `pool` must outlive the service.
  OrchestratorService(SessionServices services, WorkerPool* pool,
                      OrchestratorServiceOptions options = {})
      : services_(services), pool_(pool), options_(options) {}

  grpc::ServerBidiReactor<v1::ConverseRequest, v1::ConverseEvent>* Converse(
      grpc::CallbackServerContext* context) override;

  int active_sessions() const { return session_limit_.active(); }

 private:
  friend class ConverseStream;

  const SessionServices services_;
  WorkerPool* const pool_;
  const OrchestratorServiceOptions options_;
  StreamLimit session_limit_{options_.max_sessions, "orchestrator"};
  SessionTicker ticker_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_
