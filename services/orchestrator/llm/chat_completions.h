// OpenAI's Chat Completions wire format, streaming: the request body for a turn, and the
// meaning of each server-sent event of the answer (content deltas, the finish reason, token
// usage, the end). No I/O here: OpenAiLlmClient moves the bytes.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LLM_CHAT_COMPLETIONS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LLM_CHAT_COMPLETIONS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "services/orchestrator/llm/sse_parser.h"
#include "services/orchestrator/llm_client.h"

namespace voxflow::orchestrator {

struct ChatSettings {
  std::string model;
  std::string system_prompt;
  std::optional<double> temperature;
  std::optional<int> max_tokens;
  int max_history_turns = 10;  // Exchanges of the conversation sent before the user's text.
};

// The JSON body of POST /v1/chat/completions: system prompt, the last max_history_turns
// exchanges (the assistant's as the caller heard them), the user's text; "stream": true with
// usage in the last chunk.
std::string ChatCompletionRequestBody(const ChatSettings& settings, const LlmRequest& request);

struct TokenUsage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

struct CompletionDelta {
  std::string content;        // choices[0].delta.content; may be empty.
  std::string finish_reason;  // Set on the last content chunk ("stop", "length", ...).
  std::optional<TokenUsage> usage;
  bool done = false;  // "data: [DONE]": the stream is over.
};

// What one event says. UNAVAILABLE for an error the server streamed ({"error": ...}), INTERNAL
// for data that is not the JSON of a chunk (the message names it, cut).
absl::StatusOr<CompletionDelta> ParseCompletionEvent(const SseEvent& event);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LLM_CHAT_COMPLETIONS_H_
