#include "services/orchestrator/llm/openai_llm_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/http/curl_loop.h"
#include "services/common/http/http_status.h"
#include "services/common/logging.h"
#include "services/orchestrator/llm/llm_metrics.h"

namespace voxflow::orchestrator {
// The state of one request, seen from libcurl's callbacks.
struct OpenAiLlmClient::Transfer {
  CURL* easy = nullptr;
  const LlmTokenSink* on_token = nullptr;
  SseParser parser;
  absl::Status error;       // Set by the write callback to stop the transfer.
  std::string error_body;   // An HTTP error's body (cut).
  std::string retry_after;  // Header of a 429.
  std::optional<TokenUsage> usage;
  std::string finish_reason;
  std::string content;  // All of it, for a tool round.
  ToolCallAssembler tool_calls;
  bool done = false;  // [DONE] seen.
  long status = 0;
};

namespace {
using Transfer = OpenAiLlmClient::Transfer;

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const absl::string_view line(data, size * count);
  if (absl::StartsWithIgnoreCase(line, "retry-after:")) {
    transfer->retry_after = std::string(absl::StripAsciiWhitespace(line.substr(12)));
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const absl::string_view bytes(data, size * count);
  if (transfer->status == 0)
    curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &transfer->status);
  if (transfer->status >= 300) {
    if (transfer->error_body.size() < 512) {
      const absl::string_view piece = bytes.substr(0, 512);
      transfer->error_body.append(piece.data(), piece.size());
    }
    return bytes.size();
  }
  for (const SseEvent& event : transfer->parser.Push(bytes)) {
    absl::StatusOr<CompletionDelta> delta = ParseCompletionEvent(event);
    if (!delta.ok()) {
      transfer->error = delta.status();
      return 0;  // Stops the transfer (CURLE_WRITE_ERROR).
    }
    if (!delta->content.empty()) {
      transfer->content += delta->content;
      (*transfer->on_token)(delta->content);
    }
    for (const ToolCallDelta& piece : delta->tool_calls) {
      if (absl::Status s = transfer->tool_calls.Add(piece); !s.ok()) {
        transfer->error = s;
        return 0;
      }
    }
    if (!delta->finish_reason.empty()) transfer->finish_reason = delta->finish_reason;
    if (delta->usage.has_value()) transfer->usage = delta->usage;
    if (delta->done) transfer->done = true;
  }
  return bytes.size();
}

}  // namespace

// One reply: its requests (one per tool round) on the CurlLoop, the caller's tool answers in
// between. Alive (holding itself) from Start until on_done.
class OpenAiLlmClient::Generation : public std::enable_shared_from_this<Generation> {
 public:
  Generation(OpenAiLlmClient* client, LlmRequest request, LlmTokenSink on_token, LlmDone on_done,
             std::shared_ptr<CancellationToken> cancel)
      : client_(client),
        endpoint_(absl::StrCat(client->options_.base_url, "/chat/completions")),
        request_(std::move(request)),
        on_token_(std::move(on_token)),
        on_done_(std::move(on_done)),
        cancel_(std::move(cancel)) {}

  void Start() {
    self_ = shared_from_this();
    std::weak_ptr<Generation> weak = weak_from_this();
    // A cancel (barge-in, hang-up) ends the request in flight at once: the connection closes and
    // the server stops generating.
    cancel_callback_ = cancel_->OnCancel([weak](const absl::Status&) {
      if (auto self = weak.lock()) self->AbortRequest();
    });
    if (cancel_->cancelled()) {
      Finish(cancel_->reason());
      return;
    }
    SendRequest();
  }

 private:
  void SendRequest() {
    ++round_;
    transfer_ = std::make_unique<Transfer>();
    body_ = ChatCompletionRequestBody(client_->options_.chat, request_, rounds_);
    easy_.reset(curl_easy_init());
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: text/event-stream");
    const std::string auth = absl::StrCat("Authorization: Bearer ", client_->options_.api_key);
    if (!client_->options_.api_key.empty()) headers = curl_slist_append(headers, auth.c_str());
    headers_.reset(headers);
    if (easy_ == nullptr) {
      Finish(absl::InternalError("libcurl failed to start"));
      return;
    }
    const OpenAiOptions& options = client_->options_;
    transfer_->easy = easy_.get();
    transfer_->on_token = &on_token_;
    CURL* e = easy_.get();
    curl_easy_setopt(e, CURLOPT_URL, endpoint_.c_str());
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body_.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(body_.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_.get());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, transfer_.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, transfer_.get());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    if (!options.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options.ca_file.c_str());
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options.connect_timeout)));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options.timeout)));
    std::weak_ptr<Generation> weak = weak_from_this();
    bool aborted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      aborted = aborted_;  // Cancelled while the tools answered.
      if (!aborted) {
        request_id_ = CurlLoop::Default().Add(e, [weak](CURLcode result) {
          if (auto self = weak.lock()) self->OnRequestDone(result);
        });
      }
    }
    if (aborted) Finish(cancel_->reason());
  }

  void AbortRequest() {
    int64_t id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      aborted_ = true;
      id = request_id_;
    }
    if (id != 0) CurlLoop::Default().Abort(id);
  }

  // On the loop's thread.
  void OnRequestDone(CURLcode result) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      request_id_ = 0;
    }
    long new_connections = 0;
    curl_easy_getinfo(easy_.get(), CURLINFO_NUM_CONNECTS, &new_connections);
    LlmMetrics::CountRequest(new_connections);
    long http = transfer_->status;
    if (http == 0) curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &http);
    easy_.reset();
    ++report_.requests;
    if (transfer_->usage.has_value()) {
      TokenUsage& sum = report_.usage.has_value() ? *report_.usage : report_.usage.emplace();
      sum.prompt_tokens += transfer_->usage->prompt_tokens;
      sum.completion_tokens += transfer_->usage->completion_tokens;
    }
    finish_reason_ = transfer_->finish_reason;
    const absl::Status status = RequestStatus(result, http);
    if (!status.ok() || transfer_->tool_calls.empty()) {
      Finish(status);
      return;
    }
    if (round_ > kMaxToolRounds) {
      Finish(absl::InternalError(absl::StrCat(
          "the model at ", endpoint_, " still called tools after ", kMaxToolRounds, " rounds")));
      return;
    }
    // The model wants tools: the caller answers each, then the completion continues with them.
    ToolRound next;
    next.content = std::move(transfer_->content);
    next.calls = transfer_->tool_calls.Take(round_);
    next.answers.resize(next.calls.size());
    const std::vector<LlmToolCall> calls = next.calls;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rounds_.push_back(std::move(next));
      answers_missing_ = calls.size();
    }
    std::weak_ptr<Generation> weak = weak_from_this();
    for (size_t i = 0; i < calls.size(); ++i) {
      auto answer = [weak, i](LlmToolAnswer answer) {
        if (auto self = weak.lock()) self->OnToolAnswer(i, std::move(answer));
      };
      if (request_.call_tool) {
        request_.call_tool(calls[i], answer);
      } else {
        answer(LlmToolAnswer{"", "this conversation has no tools"});
      }
    }
  }

  void OnToolAnswer(size_t index, LlmToolAnswer answer) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      rounds_.back().answers[index] = std::move(answer);
      if (--answers_missing_ > 0) return;
    }
    if (cancel_->cancelled()) {
      Finish(cancel_->reason());
      return;
    }
    SendRequest();
  }

  absl::Status RequestStatus(CURLcode result, long http) const {
    if (result == CURLE_ABORTED_BY_CALLBACK) {
      return cancel_->cancelled() ? cancel_->reason() : absl::CancelledError("request aborted");
    }
    if (!transfer_->error.ok()) return transfer_->error;
    if (result == CURLE_OPERATION_TIMEDOUT) {
      return absl::DeadlineExceededError(absl::StrCat(
          endpoint_, " did not finish within ", absl::FormatDuration(client_->options_.timeout)));
    }
    if (result != CURLE_OK) {
      return absl::UnavailableError(absl::StrCat("cannot reach the model server at ", endpoint_,
                                                 ": ", curl_easy_strerror(result)));
    }
    if (http >= 300) {
      return HttpStatusError(http, endpoint_, transfer_->error_body, transfer_->retry_after,
                             absl::Now());
    }
    if (!transfer_->done) {
      return absl::UnavailableError(
          absl::StrCat(endpoint_, ": the stream ended before [DONE] (the reply is cut)"));
    }
    return absl::OkStatus();
  }

  void Finish(const absl::Status& status) {
    // Not from inside the cancel callback (AbortRequest never finishes): it may be removed.
    cancel_->RemoveCallback(cancel_callback_);
    client_->report_ = report_;
    client_->last_finish_reason_ = finish_reason_;
    LlmDone done = std::move(on_done_);
    std::shared_ptr<Generation> keep = std::move(self_);
    done(status);
  }

  OpenAiLlmClient* const client_;
  const std::string endpoint_;
  const LlmRequest request_;
  const LlmTokenSink on_token_;
  LlmDone on_done_;
  const std::shared_ptr<CancellationToken> cancel_;
  std::shared_ptr<Generation> self_;
  int64_t cancel_callback_ = -1;
  // One request at a time: written before it is added to the loop, read on the loop's thread.
  std::unique_ptr<Transfer> transfer_;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy_{nullptr, &curl_easy_cleanup};
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers_{nullptr,
                                                                       &curl_slist_free_all};
  std::string body_;
  int round_ = 0;
  LlmReport report_;
  std::string finish_reason_;
  std::mutex mu_;
  std::vector<ToolRound> rounds_;  // Under mu_ while answers come.
  size_t answers_missing_ = 0;
  int64_t request_id_ = 0;
  bool aborted_ = false;
};

void OpenAiLlmClient::Start(LlmRequest request, LlmTokenSink on_token, LlmDone on_done,
                            std::shared_ptr<CancellationToken> cancel) {
  report_ = LlmReport{};
  last_finish_reason_.clear();
  std::make_shared<Generation>(this, std::move(request), std::move(on_token), std::move(on_done),
                               std::move(cancel))
      ->Start();
}

}  // namespace voxflow::orchestrator
