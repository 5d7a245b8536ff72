// The language model's metrics, in the process's Prometheus registry:
//   voxflow_llm_requests_total                  completions requested from model servers
//   voxflow_llm_connections_opened_total        new connections those requests needed (the rest
//                                               reused a kept-alive one)
//   voxflow_llm_tokens_total{kind}              prompt / completion tokens the servers reported
//   voxflow_llm_first_token_seconds             the llm stage asking -> the first token
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LLM_LLM_METRICS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LLM_LLM_METRICS_H_

#include "absl/time/time.h"
#include "services/orchestrator/llm_client.h"

namespace voxflow::orchestrator {

class LlmMetrics {
 public:
  static void CountRequest(long new_connections);
  static void CountTokens(const TokenUsage& usage);
  static void ObserveFirstToken(absl::Duration time_to_first_token);
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LLM_LLM_METRICS_H_
