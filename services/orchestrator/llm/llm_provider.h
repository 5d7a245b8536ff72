// The llm stage's model, chosen by the pipeline: StageSpec.parameters of the llm stage.
//   "provider"           "rule" (the default: the built-in rule model, offline) or "openai"
//                        (an OpenAI-compatible server, streaming Chat Completions);
// for "openai":
//   "base_url"           e.g. "http://127.0.0.1:8000/v1" (required);
//   "model"              (required);
//   "api_key_file"       a file holding the key, or "api_key_env", the name of an environment
//                        variable holding it (the key itself is never a parameter, logged or
//                        echoed);
//   "ca_file"            HTTPS: a CA bundle (PEM) to trust instead of the system's;
//   "system_prompt", "temperature" (0..2), "max_tokens" (> 0), "timeout_ms" (default 30000),
//   "max_history_turns" (default 10);
// for either:
//   "tools", "tool_timeout_ms"  the tools the model may call (tool_declarations.h; the rule model
//                        calls none);
//   "fallback_reply"     spoken when the model cannot be reached, or fails before its first word,
//                        after the stage's retries (default: none; the turn fails).
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LLM_LLM_PROVIDER_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LLM_LLM_PROVIDER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/orchestrator/llm/openai_llm_client.h"
#include "services/orchestrator/llm_client.h"
#include "voxflow/v1/pipeline.pb.h"

namespace voxflow::orchestrator {

// The OpenAI options the parameters ask for; INVALID_ARGUMENT naming the parameter.
absl::StatusOr<OpenAiOptions> OpenAiOptionsFromParameters(
    const std::map<std::string, std::string>& parameters);

// Server-wide defaults (the orchestrator's --llm_* flags) for llm stages whose pipeline names no
// provider: each non-empty default is set where the stage leaves it unset. Then every llm stage's
// parameters are checked: INVALID_ARGUMENT naming the pipeline, the stage and the parameter, so
// that a mistake stops the server at start-up rather than failing every turn.
absl::Status ApplyLlmDefaults(const std::map<std::string, std::string>& defaults,
                              std::vector<v1::PipelineSpec>& specs);

// The provider the --llm_* flags choose: `provider` when given; otherwise "openai" when a setting
// only it reads is given (--llm_base_url, --llm_model, --llm_api_key_file, --llm_ca_file), since
// the built-in rule model would ignore it silently. INVALID_ARGUMENT naming the flags when
// `provider` is "rule" and such a setting is given. `note` says what was chosen, if anything.
absl::StatusOr<std::string> ChooseLlmProvider(const std::map<std::string, std::string>& flags,
                                              std::string* note);

// The client the parameters choose; INVALID_ARGUMENT naming the parameter.
absl::StatusOr<std::unique_ptr<LlmClient>> MakeLlmClient(
    const std::map<std::string, std::string>& parameters);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LLM_LLM_PROVIDER_H_
