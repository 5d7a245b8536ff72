// An LlmClient for OpenAI-compatible servers (vLLM, llama.cpp's server, Ollama, LM Studio, TGI,
// hosted APIs): POST {base_url}/chat/completions with "stream": true, tokens streamed from the
// server-sent events as they arrive. libcurl, on the process's CurlLoop: no thread waits for a
// reply, and connections are kept and reused across turns and sessions. A cancel aborts the
// request at once, so barge-in stops the model server's generation within milliseconds.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LLM_OPENAI_LLM_CLIENT_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LLM_OPENAI_LLM_CLIENT_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "services/orchestrator/llm/chat_completions.h"
#include "services/orchestrator/llm_client.h"

namespace voxflow::orchestrator {

struct OpenAiOptions {
  std::string base_url;  // E.g. "http://127.0.0.1:8000/v1"; "/chat/completions" is appended.
  std::string api_key;   // Sent as a bearer token; never logged or echoed. Empty: none.
  std::string ca_file;   // HTTPS: trust this CA bundle (PEM) instead of the system's.
  ChatSettings chat;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(30);  // The whole answer.
};

class OpenAiLlmClient final : public LlmClient {
 public:
  explicit OpenAiLlmClient(OpenAiOptions options) : options_(std::move(options)) {}

  // Errors name the endpoint and what went wrong, never the key:
  // Tool calls the model makes are answered by request.call_tool, then the completion continues
  // with the answers (a new request carrying the calls and their results).
  //   UNAVAILABLE        connection refused or reset, HTTP 5xx, a stream cut before [DONE], an
  //                      error the server streamed;
  //   UNAUTHENTICATED    HTTP 401; PERMISSION_DENIED 403; NOT_FOUND 404 (e.g. an unknown model);
  //   RESOURCE_EXHAUSTED HTTP 429 (with the server's Retry-After, also as RetryAfter(status));
  //   DEADLINE_EXCEEDED  `timeout`;  INTERNAL malformed JSON;  CANCELLED `cancel` fired.
  void Start(LlmRequest request, LlmTokenSink on_token, LlmDone on_done,
             std::shared_ptr<CancellationToken> cancel) override;

  // Of the last reply: its requests and the usage the server reported; the finish reason.
  LlmReport last_report() const override { return report_; }
  const std::string& last_finish_reason() const { return last_finish_reason_; }

  // A reply may call tools this many times (rounds of calls) before it is an error.
  static constexpr int kMaxToolRounds = 8;

  struct Transfer;

 private:
  class Generation;

  const OpenAiOptions options_;
  LlmReport report_;
  std::string last_finish_reason_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LLM_OPENAI_LLM_CLIENT_H_
