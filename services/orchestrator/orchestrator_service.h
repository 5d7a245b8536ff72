// The voxflow.v1.Orchestrator gRPC service: thin handlers over sessions and the stage DAG.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_

#include "voxflow/v1/orchestrator.grpc.pb.h"

namespace voxflow::orchestrator {

// RPCs not built yet answer UNIMPLEMENTED (the generated base class does that).
class OrchestratorService final : public v1::Orchestrator::CallbackService {};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_
