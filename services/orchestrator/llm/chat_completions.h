// OpenAI's Chat Completions wire format, streaming: the request body for a turn, and the
// meaning of each server-sent event of the answer (content deltas, the finish reason, token
// usage, the end). No I/O here: OpenAiLlmClient moves the bytes.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LLM_CHAT_COMPLETIONS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LLM_CHAT_COMPLETIONS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/http/sse_parser.h"
#include "services/orchestrator/llm_client.h"

namespace voxflow::orchestrator {

struct ChatSettings {
  std::string model;
  std::string system_prompt;
  std::optional<double> temperature;
  std::optional<int> max_tokens;
  int max_history_turns = 10;  // Exchanges of the conversation sent before the user's text.
};

// One round of tool use within a reply: the calls the model made and their answers, in order.
struct ToolRound {
  std::string content;  // What the model said before calling.
  std::vector<LlmToolCall> calls;
  std::vector<LlmToolAnswer> answers;
};

// The JSON body of POST /v1/chat/completions: system prompt, the last max_history_turns
// exchanges (the assistant's as the caller heard them), the user's text, then each earlier tool
// round of this reply (the assistant's tool_calls and a "tool" message per answer); the tools;
// "stream": true with usage in the last chunk.
std::string ChatCompletionRequestBody(const ChatSettings& settings, const LlmRequest& request,
                                      const std::vector<ToolRound>& rounds = {});

// A piece of a streamed tool call (choices[0].delta.tool_calls[i]): the first piece of a call
// carries its id and name, the rest more of its arguments.
struct ToolCallDelta {
  int index = 0;
  std::string id;
  std::string name;
  std::string arguments;
};

struct CompletionDelta {
  std::string content;  // choices[0].delta.content; may be empty.
  std::vector<ToolCallDelta> tool_calls;
  std::string finish_reason;  // Set on the last content chunk ("stop", "length", ...).
  std::optional<TokenUsage> usage;
  bool done = false;  // "data: [DONE]": the stream is over.
};

// Joins the pieces of streamed tool calls by index.
class ToolCallAssembler {
 public:
  // INTERNAL when a piece names no call that started (a first piece without a name).
  absl::Status Add(const ToolCallDelta& delta);
  // The calls, in index order; ids the server left empty are made up (unique in this reply).
  std::vector<LlmToolCall> Take(int round);
  bool empty() const { return calls_.empty(); }

 private:
  std::map<int, LlmToolCall> calls_;
};

// What one event says. UNAVAILABLE for an error the server streamed ({"error": ...}), INTERNAL
// for data that is not the JSON of a chunk (the message names it, cut).
absl::StatusOr<CompletionDelta> ParseCompletionEvent(const SseEvent& event);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LLM_CHAT_COMPLETIONS_H_
