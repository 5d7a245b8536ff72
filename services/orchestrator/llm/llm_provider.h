// The llm stage's model, chosen by the pipeline: StageSpec.parameters of the llm stage.
//   "provider"           "rule" (the default: the built-in rule model, offline) or "openai"
//                        (an OpenAI-compatible server, streaming Chat Completions);
// for "openai":
//   "base_url"           e.g. "http://127.0.0.1:8000/v1" (required);
//   "model"              (required);
//   "api_key_file"       a file holding the key, or "api_key_env", the name of an environment
//                        variable holding it (the key itself is never a parameter, logged or
//                        echoed);
//   "system_prompt", "temperature" (0..2), "max_tokens" (> 0), "timeout_ms" (default 30000),
//   "max_history_turns" (default 10).
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LLM_LLM_PROVIDER_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LLM_LLM_PROVIDER_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/orchestrator/llm/openai_llm_client.h"
#include "services/orchestrator/llm_client.h"

namespace voxflow::orchestrator {

// The OpenAI options the parameters ask for; INVALID_ARGUMENT naming the parameter.
absl::StatusOr<OpenAiOptions> OpenAiOptionsFromParameters(
    const std::map<std::string, std::string>& parameters);

// The client the parameters choose; INVALID_ARGUMENT naming the parameter.
absl::StatusOr<std::unique_ptr<LlmClient>> MakeLlmClient(
    const std::map<std::string, std::string>& parameters);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LLM_LLM_PROVIDER_H_
