// LlmClient: the reply generator behind the llm stage, streaming tokens. The built-in
// RuleLlmClient is deterministic and offline: replies come from rules in the pipeline spec, so the
// demo and the tests need no model. A real model client implements the same interface.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LLM_CLIENT_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LLM_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/cancellation.h"
#include "services/orchestrator/conversation_memory.h"

namespace voxflow::orchestrator {

// A function the model may call; the caller's application runs it.
struct LlmTool {
  std::string name;
  std::string description;
  std::string parameters_json;  // A JSON Schema object; empty: no arguments.
};

struct LlmToolCall {
  std::string id;
  std::string name;
  std::string arguments_json;
};

// What a tool call came to: the tool's JSON answer, or why there is none (the model is told).
struct LlmToolAnswer {
  std::string content_json;
  std::string error;  // Set when the tool failed, timed out or is unknown.
};

// Takes a tool call's answer (once, on any thread).
using LlmToolAnswerSink = std::function<void(LlmToolAnswer answer)>;

struct LlmRequest {
  std::string user_text;
  std::vector<Exchange> history;  // Oldest first.
  std::vector<LlmTool> tools;
  // Runs a tool call the model made: `answer` is called once with the answer, a timeout's or a
  // cancel's error (on any thread, possibly at once). Unset: no tools.
  std::function<void(const LlmToolCall& call, LlmToolAnswerSink answer)> call_tool;
};

using LlmTokenSink = std::function<void(absl::string_view token)>;
using LlmDone = std::function<void(const absl::Status& status)>;

struct TokenUsage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// What one Generate cost, as far as the model server said.
struct LlmReport {
  std::optional<TokenUsage> usage;  // Summed over its requests; nullopt when none reported it.
  int requests = 0;                 // Completions requested (tool calls add one each round).
};

class LlmClient {
 public:
  virtual ~LlmClient() = default;
  // Starts the reply and returns: its tokens go to `on_token` in order, one call at a time (they
  // concatenate to the reply), then `on_done` is called once, with CANCELLED soon after `cancel`
  // fires. Both may run on any thread, or inside Start; no thread waits for the model meanwhile.
  // The client must outlive on_done; one reply at a time per client.
  virtual void Start(LlmRequest request, LlmTokenSink on_token, LlmDone on_done,
                     std::shared_ptr<CancellationToken> cancel) = 0;
  // Start, waiting for on_done (tests and tools).
  absl::Status Generate(LlmRequest request, LlmTokenSink on_token,
                        std::shared_ptr<CancellationToken> cancel);
  // Of the last reply, complete once on_done was called.
  virtual LlmReport last_report() const { return {}; }
};

// Replies by rule. Parameters (StageSpec.parameters of the llm stage):
//   "rule.<words>"         reply when the user's text contains <words> (case-insensitive; rules
//                          are tried in name order);
//   "default"              reply otherwise (default "You said: {transcript}.");
//   "token_delay_ms"       pause before each token after the first (default 0);
//   "first_token_delay_ms" pause before the first token (default 0).
// Replies may use {transcript}, {previous} (the user's previous utterance, or "nothing yet"),
// {previous_reply} (what the user heard of the previous reply) and {turn} (1 for the first
// exchange). Tokens are words with their trailing space.
class RuleLlmClient final : public LlmClient {
 public:
  struct Options {
    std::vector<std::pair<std::string, std::string>> rules;
    std::string fallback = "You said: {transcript}.";
    absl::Duration first_token_delay = absl::ZeroDuration();
    absl::Duration token_delay = absl::ZeroDuration();
  };
  // INVALID_ARGUMENT for a delay that is not a non-negative integer.
  static absl::StatusOr<Options> OptionsFromParameters(
      const std::map<std::string, std::string>& parameters);

  explicit RuleLlmClient(Options options) : options_(std::move(options)) {}

  // The whole reply for `request` (what Generate streams).
  std::string Reply(const LlmRequest& request) const;

  // Without delays, the whole reply within Start; with them, paced on the TimerQueue.
  void Start(LlmRequest request, LlmTokenSink on_token, LlmDone on_done,
             std::shared_ptr<CancellationToken> cancel) override;

 private:
  const Options options_;
};

// Cuts streamed text into sentences at '.', '!' or '?' followed by a space (so "3.5" stays
// whole). Used to start speech on the first complete sentence.
class SentenceSplitter {
 public:
  // Adds text; returns the sentences it completed (trimmed).
  std::vector<std::string> Append(absl::string_view text);
  // The rest as a last sentence ("" if only whitespace is left).
  std::string Flush();

 private:
  std::string pending_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LLM_CLIENT_H_
