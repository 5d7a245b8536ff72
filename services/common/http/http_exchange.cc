#include "services/common/http/http_exchange.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/http/http_status.h"

namespace voxflow {

struct HttpExchange::Access {
  static size_t OnHeader(char* data, size_t size, size_t count, void* user) {
    auto* exchange = static_cast<HttpExchange*>(user);
    const absl::string_view line(data, size * count);
    if (absl::StartsWithIgnoreCase(line, "retry-after:")) {
      exchange->retry_after_ = std::string(absl::StripAsciiWhitespace(line.substr(12)));
    }
    return size * count;
  }

  static size_t OnBody(char* data, size_t size, size_t count, void* user) {
    auto* exchange = static_cast<HttpExchange*>(user);
    const absl::string_view bytes(data, size * count);
    if (exchange->http_status_ == 0) {
      curl_easy_getinfo(exchange->easy_.get(), CURLINFO_RESPONSE_CODE, &exchange->http_status_);
      const char* type = nullptr;
      curl_easy_getinfo(exchange->easy_.get(), CURLINFO_CONTENT_TYPE, &type);
      if (type != nullptr) exchange->content_type_ = absl::AsciiStrToLower(type);
    }
    if (exchange->http_status_ >= 300) {
      if (exchange->error_body_.size() < 512) {
        const absl::string_view piece = bytes.substr(0, 512 - exchange->error_body_.size());
        exchange->error_body_.append(piece.data(), piece.size());
      }
      return bytes.size();
    }
    if (!exchange->first_byte_at_.has_value()) {
      exchange->first_byte_at_ = absl::Now();
      std::lock_guard<std::mutex> lock(exchange->mu_);
      exchange->got_first_byte_ = true;
    }
    if (absl::Status s = exchange->on_body_(bytes); !s.ok()) {
      exchange->sink_error_ = std::move(s);
      return 0;  // Stops the transfer (CURLE_WRITE_ERROR).
    }
    return bytes.size();
  }
};

std::shared_ptr<HttpExchange> HttpExchange::Start(HttpRequest request, BodySink on_body,
                                                  Done on_done, CurlLoop& loop) {
  std::shared_ptr<HttpExchange> exchange(
      new HttpExchange(std::move(request), std::move(on_body), std::move(on_done), loop));
  exchange->Begin(exchange);
  return exchange;
}

HttpExchange::HttpExchange(HttpRequest request, BodySink on_body, Done on_done, CurlLoop& loop)
    : request_(std::move(request)),
      on_body_(std::move(on_body)),
      on_done_(std::move(on_done)),
      loop_(loop) {}

HttpExchange::~HttpExchange() = default;

void HttpExchange::Begin(std::shared_ptr<HttpExchange> self) {
  started_at_ = absl::Now();
  easy_.reset(curl_easy_init());
  if (easy_ == nullptr) {
    Done done = std::move(on_done_);
    done(absl::InternalError("libcurl failed to start"));
    return;
  }
  CURL* e = easy_.get();
  curl_slist* headers = nullptr;
  for (const std::string& header : request_.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  if (!request_.bearer_token.empty()) {
    const std::string auth = absl::StrCat("Authorization: Bearer ", request_.bearer_token);
    headers = curl_slist_append(headers, auth.c_str());
  }
  if (!request_.form.empty()) {
    mime_.reset(curl_mime_init(e));
    for (const HttpFormPart& part : request_.form) {
      curl_mimepart* field = curl_mime_addpart(mime_.get());
      curl_mime_name(field, part.name.c_str());
      curl_mime_data(field, part.data.data(), part.data.size());
      if (!part.filename.empty()) curl_mime_filename(field, part.filename.c_str());
      if (!part.content_type.empty()) curl_mime_type(field, part.content_type.c_str());
    }
    curl_easy_setopt(e, CURLOPT_MIMEPOST, mime_.get());
  } else if (request_.method_get) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, request_.json_body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(request_.json_body.size()));
  }
  // No "Expect: 100-continue" round trip before an upload: it costs a caller a round trip.
  headers = curl_slist_append(headers, "Expect:");
  headers_.reset(headers);
  curl_easy_setopt(e, CURLOPT_URL, request_.url.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_.get());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Access::OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Access::OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  if (!request_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, request_.ca_file.c_str());
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request_.connect_timeout)));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request_.timeout)));
  self_ = std::move(self);
  std::lock_guard<std::mutex> lock(mu_);
  transfer_id_ = loop_.Add(e, [this](CURLcode result) { OnTransferDone(result); });
  if (request_.first_byte_timeout > absl::ZeroDuration()) {
    std::weak_ptr<HttpExchange> weak = self_;
    first_byte_timer_ =
        TimerQueue::Default().Schedule(started_at_ + request_.first_byte_timeout, [weak] {
          if (auto exchange = weak.lock()) exchange->OnFirstByteLate();
        });
  }
}

void HttpExchange::OnFirstByteLate() {
  int64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (over_ || got_first_byte_) return;
    first_byte_late_ = true;
    id = transfer_id_;
  }
  loop_.Abort(id);
}

void HttpExchange::Abort() {
  int64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (over_) return;
    aborted_ = true;
    id = transfer_id_;
  }
  loop_.Abort(id);
}

void HttpExchange::OnTransferDone(CURLcode result) {
  bool aborted, late;
  int64_t timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    over_ = true;
    aborted = aborted_;
    late = first_byte_late_;
    timer = first_byte_timer_;
  }
  if (timer != 0) TimerQueue::Default().Cancel(timer);
  long connects = 0;
  curl_easy_getinfo(easy_.get(), CURLINFO_NUM_CONNECTS, &connects);
  new_connection_ = connects > 0;
  if (http_status_ == 0) curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &http_status_);
  absl::Status status;
  if (late && !aborted) {
    status = absl::DeadlineExceededError(
        absl::StrCat(request_.url, " sent no answer within ",
                     absl::FormatDuration(request_.first_byte_timeout)));
  } else if (result == CURLE_ABORTED_BY_CALLBACK || aborted) {
    status = absl::CancelledError(absl::StrCat(request_.url, ": request aborted"));
  } else if (!sink_error_.ok()) {
    status = sink_error_;
  } else if (result != CURLE_OK) {
    status = CurlResultError(result, request_.url, request_.timeout);
  } else if (http_status_ >= 300) {
    status = HttpStatusError(http_status_, request_.url, error_body_, retry_after_, absl::Now());
  }
  Done done = std::move(on_done_);
  std::shared_ptr<HttpExchange> keep = std::move(self_);
  done(status);
}

}  // namespace voxflow
