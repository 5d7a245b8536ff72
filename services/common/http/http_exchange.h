// HttpExchange: one HTTP POST (or GET) on the process's CurlLoop, its response body handed on as it
// arrives (a streamed transcript, streamed speech), its outcome mapped to an absl::Status that
// names the endpoint (http_status.h). No thread waits for it; Abort ends it at once and closes
// its connection (a provider stops working for a caller who is gone).
#ifndef VOXFLOW_SERVICES_COMMON_HTTP_HTTP_EXCHANGE_H_
#define VOXFLOW_SERVICES_COMMON_HTTP_HTTP_EXCHANGE_H_

#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/http/curl_loop.h"
#include "services/common/timer_queue.h"

namespace voxflow {

struct HttpFormPart {
  std::string name;
  std::string data;
  std::string filename;      // Set for a file part.
  std::string content_type;  // Of a file part.
};

struct HttpRequest {
  std::string url;
  std::string bearer_token;  // Sent as "Authorization: Bearer ..."; never logged.
  std::string ca_file;       // HTTPS: trust this CA bundle (PEM) instead of the system's.
  absl::Duration connect_timeout = absl::Seconds(3);
  // No first byte of the response by then: DEADLINE_EXCEEDED (a server that hangs is given up
  // on while a fallback can still serve the caller). Zero: only `timeout`.
  absl::Duration first_byte_timeout = absl::ZeroDuration();
  absl::Duration timeout = absl::Seconds(60);  // The whole exchange.
  std::vector<std::string> headers;            // More "Name: value" lines.
  std::string json_body;                       // Sent as application/json, unless
  std::vector<HttpFormPart> form;              // this is set: multipart/form-data.
  bool method_get = false;                     // A GET instead (no body).
};

class HttpExchange {
 public:
  // A 2xx response's body bytes, on the loop's thread, quick. An error stops the exchange and
  // becomes its outcome.
  using BodySink = std::function<absl::Status(absl::string_view bytes)>;
  using Done = std::function<void(const absl::Status& status)>;

  // Starts `request`. `on_done` runs once, on the loop's thread (or the caller's when it cannot
  // start): OK, the sink's error, CANCELLED after Abort, or the transfer's error.
  static std::shared_ptr<HttpExchange> Start(HttpRequest request, BodySink on_body, Done on_done,
                                             CurlLoop& loop = CurlLoop::Default());
  ~HttpExchange();

  // Any thread; on_done follows with CANCELLED unless the exchange was over already.
  void Abort();

  // Of the response, once on_body has been called: its Content-Type ("" if none).
  const std::string& content_type() const { return content_type_; }
  absl::Time started_at() const { return started_at_; }
  // When the first body byte arrived (nullopt before).
  std::optional<absl::Time> first_byte_at() const { return first_byte_at_; }
  long http_status() const { return http_status_; }
  bool new_connection() const { return new_connection_; }

  struct Access;  // libcurl's callbacks.

 private:
  HttpExchange(HttpRequest request, BodySink on_body, Done on_done, CurlLoop& loop);
  void Begin(std::shared_ptr<HttpExchange> self);
  void OnTransferDone(CURLcode result);
  void OnFirstByteLate();

  const HttpRequest request_;
  const BodySink on_body_;
  Done on_done_;
  CurlLoop& loop_;
  std::shared_ptr<HttpExchange> self_;  // Until on_done.
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy_{nullptr, &curl_easy_cleanup};
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers_{nullptr,
                                                                       &curl_slist_free_all};
  std::unique_ptr<curl_mime, decltype(&curl_mime_free)> mime_{nullptr, &curl_mime_free};
  // Loop thread's, from the first callback.
  long http_status_ = 0;
  std::string content_type_;
  std::string error_body_;   // A non-2xx answer's body, cut.
  std::string retry_after_;  // Header.
  absl::Status sink_error_;
  absl::Time started_at_;
  std::optional<absl::Time> first_byte_at_;
  bool new_connection_ = false;

  std::mutex mu_;
  int64_t transfer_id_ = 0;
  bool aborted_ = false;
  bool first_byte_late_ = false;  // Aborted by the first-byte timer.
  bool got_first_byte_ = false;
  bool over_ = false;
  int64_t first_byte_timer_ = 0;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_HTTP_HTTP_EXCHANGE_H_
