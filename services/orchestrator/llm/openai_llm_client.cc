#include "services/orchestrator/llm/openai_llm_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/logging.h"
#include "services/orchestrator/llm/llm_metrics.h"
#include "services/orchestrator/llm/retry_after.h"

namespace voxflow::orchestrator {
namespace {

// One connection cache for the process: a turn reuses the connection (and TLS session) an
// earlier turn, of any session, left open.
class SharedConnections {
 public:
  static CURLSH* Get() {
    static SharedConnections* shared = new SharedConnections();
    return shared->share_;
  }

 private:
  SharedConnections() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    share_ = curl_share_init();
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &Lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &Unlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
  }
  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* self) {
    static_cast<SharedConnections*>(self)->mu_[data % kLocks].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* self) {
    static_cast<SharedConnections*>(self)->mu_[data % kLocks].unlock();
  }
  static constexpr int kLocks = 8;
  std::mutex mu_[kLocks];
  CURLSH* share_ = nullptr;
};

}  // namespace

// The state of one request, seen from libcurl's callbacks.
struct OpenAiLlmClient::Transfer {
  CURL* easy = nullptr;
  const std::function<void(absl::string_view)>* on_token = nullptr;
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

absl::Status HttpError(long status, const std::string& endpoint, const Transfer& transfer) {
  const std::string what = absl::StrCat(endpoint, " answered HTTP ", status, ": ",
                                        QuoteClientValue(transfer.error_body, 200));
  switch (status) {
    case 401:
      return absl::UnauthenticatedError(what);
    case 403:
      return absl::PermissionDeniedError(what);
    case 404:
      return absl::NotFoundError(what);
    case 429: {
      absl::Status status = absl::ResourceExhaustedError(
          absl::StrCat(what, transfer.retry_after.empty()
                                 ? ""
                                 : absl::StrCat(" (Retry-After: ", transfer.retry_after, ")")));
      if (std::optional<absl::Duration> wait = ParseRetryAfter(transfer.retry_after, absl::Now())) {
        SetRetryAfter(status, *wait);
      }
      return status;
    }
    default:
      return status >= 500 ? absl::UnavailableError(what) : absl::InvalidArgumentError(what);
  }
}

}  // namespace

absl::Status OpenAiLlmClient::Perform(const std::string& endpoint, const std::string& body,
                                      const std::function<void(absl::string_view)>& on_token,
                                      const CancellationToken& cancel, Transfer& transfer) {
  std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> multi(curl_multi_init(),
                                                              &curl_multi_cleanup);
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy(curl_easy_init(), &curl_easy_cleanup);
  if (multi == nullptr || easy == nullptr) return absl::InternalError("libcurl failed to start");
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: text/event-stream");
  const std::string auth = absl::StrCat("Authorization: Bearer ", options_.api_key);
  if (!options_.api_key.empty()) headers = curl_slist_append(headers, auth.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers,
                                                                          &curl_slist_free_all);
  transfer.easy = easy.get();
  transfer.on_token = &on_token;
  CURL* e = easy.get();
  curl_easy_setopt(e, CURLOPT_SHARE, SharedConnections::Get());
  curl_easy_setopt(e, CURLOPT_URL, endpoint.c_str());
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  if (!options_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_multi_add_handle(multi.get(), e);

  // A cancel (barge-in, hang-up) wakes the poll below at once; the transfer is then dropped,
  // which closes the connection and stops the server's generation.
  CURLM* m = multi.get();
  const int64_t wake = cancel.OnCancel([m](const absl::Status&) { curl_multi_wakeup(m); });
  int running = 1;
  absl::Status status;
  while (running > 0) {
    if (cancel.cancelled()) {
      status = cancel.reason();
      break;
    }
    if (curl_multi_perform(m, &running) != CURLM_OK) {
      status = absl::InternalError("libcurl failed");
      break;
    }
    if (running > 0) curl_multi_poll(m, nullptr, 0, 1000, nullptr);
  }
  cancel.RemoveCallback(wake);
  CURLcode result = CURLE_OK;
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(m, &queued)) {
    if (message->msg == CURLMSG_DONE) result = message->data.result;
  }
  long new_connections = 0;
  curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &new_connections);
  LlmMetrics::CountRequest(new_connections);
  curl_multi_remove_handle(m, e);
  if (!status.ok()) return status;
  if (!transfer.error.ok()) return transfer.error;
  if (result == CURLE_OPERATION_TIMEDOUT) {
    return absl::DeadlineExceededError(
        absl::StrCat(endpoint, " did not finish within ", absl::FormatDuration(options_.timeout)));
  }
  if (result != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("cannot reach the model server at ", endpoint, ": ",
                                               curl_easy_strerror(result)));
  }
  long http = transfer.status;
  if (http == 0) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
  if (http >= 300) return HttpError(http, endpoint, transfer);
  if (!transfer.done) {
    return absl::UnavailableError(
        absl::StrCat(endpoint, ": the stream ended before [DONE] (the reply is cut)"));
  }
  return absl::OkStatus();
}

absl::Status OpenAiLlmClient::Generate(const LlmRequest& request,
                                       const std::function<void(absl::string_view)>& on_token,
                                       const CancellationToken& cancel) {
  report_ = LlmReport{};
  last_finish_reason_.clear();
  const std::string endpoint = absl::StrCat(options_.base_url, "/chat/completions");
  std::vector<ToolRound> rounds;
  for (int round = 1;; ++round) {
    Transfer transfer;
    const absl::Status status =
        Perform(endpoint, ChatCompletionRequestBody(options_.chat, request, rounds), on_token,
                cancel, transfer);
    ++report_.requests;
    if (transfer.usage.has_value()) {
      TokenUsage& sum = report_.usage.has_value() ? *report_.usage : report_.usage.emplace();
      sum.prompt_tokens += transfer.usage->prompt_tokens;
      sum.completion_tokens += transfer.usage->completion_tokens;
    }
    last_finish_reason_ = transfer.finish_reason;
    if (!status.ok() || transfer.tool_calls.empty()) return status;
    if (round > kMaxToolRounds) {
      return absl::InternalError(absl::StrCat(
          "the model at ", endpoint, " still called tools after ", kMaxToolRounds, " rounds"));
    }
    // The model wants tools: the caller answers each, then the completion continues with them.
    ToolRound next;
    next.content = std::move(transfer.content);
    next.calls = transfer.tool_calls.Take(round);
    for (const LlmToolCall& call : next.calls) {
      next.answers.push_back(request.call_tool
                                 ? request.call_tool(call)
                                 : LlmToolAnswer{"", "this conversation has no tools"});
      if (cancel.cancelled()) return cancel.reason();
    }
    rounds.push_back(std::move(next));
  }
}

}  // namespace voxflow::orchestrator
