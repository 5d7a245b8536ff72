// The voxflow.v1.Orchestrator gRPC service: a thin reactor per Converse stream over a
// ConverseSession, which holds the logic.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_

#include <atomic>
#include <cstdint>

#include "services/common/stream_limit.h"
#include "services/common/stream_reactor.h"
#include "services/common/worker_pool.h"
#include "services/orchestrator/converse_session.h"
#include "services/orchestrator/session_ticker.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

namespace voxflow::orchestrator {

struct OrchestratorServiceOptions {
  int max_sessions = 1000;          // Concurrent Converse streams; more get RESOURCE_EXHAUSTED.
  int max_sessions_per_client = 0;  // 0: no per-client limit.
  size_t max_unread_bytes = 4 << 20;
};

// Served raw (see StreamReactor): bytes that do not parse are INVALID_ARGUMENT.
using OrchestratorRawService =
    v1::Orchestrator::WithRawCallbackMethod_Converse<v1::Orchestrator::Service>;

class OrchestratorService final : public OrchestratorRawService {
 public:
  // `services`' pointers and `pool` must outlive the service.
  OrchestratorService(SessionServices services, WorkerPool* pool,
                      OrchestratorServiceOptions options = {})
      : services_(services), pool_(pool), options_(options) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Converse(
      grpc::CallbackServerContext* context) override;
  grpc::Status Describe(grpc::ServerContext* context, const v1::DescribeRequest* request,
                        v1::DescribeResponse* response) override;

  int active_sessions() const { return session_limit_.active(); }

 private:
  const SessionServices services_;
  WorkerPool* const pool_;
  const OrchestratorServiceOptions options_;
  StreamLimit session_limit_{options_.max_sessions, options_.max_sessions_per_client,
                             "orchestrator"};
  SessionTicker ticker_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_
