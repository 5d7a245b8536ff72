// CurlLoop: one thread that runs every model-server request of the process through libcurl's
// multi interface, so that a reply waiting for its tokens holds no thread of its own. Its
// connection cache keeps connections (and TLS sessions) open across requests, turns and
// sessions. Callbacks (the transfer's write and header functions, and `on_done`) run on the
// loop's thread: they must be quick and never wait.
#ifndef VOXFLOW_SERVICES_COMMON_HTTP_CURL_LOOP_H_
#define VOXFLOW_SERVICES_COMMON_HTTP_CURL_LOOP_H_

#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace voxflow {

class CurlLoop {
 public:
  CurlLoop();
  ~CurlLoop();  // Ends the transfers still running (on_done with CURLE_ABORTED_BY_CALLBACK).
  CurlLoop(const CurlLoop&) = delete;
  CurlLoop& operator=(const CurlLoop&) = delete;

  // The process's loop (never destroyed).
  static CurlLoop& Default();

  using Done = std::function<void(CURLcode result)>;
  // Runs `easy` (configured, owned by the caller until on_done); `on_done` once when it ends.
  // Returns an id for Abort.
  int64_t Add(CURL* easy, Done on_done);
  // Ends transfer `id` if it still runs: its on_done runs with CURLE_ABORTED_BY_CALLBACK, and
  // its connection is closed (a model server stops generating for a client that is gone).
  void Abort(int64_t id);

 private:
  struct Transfer {
    CURL* easy;
    Done on_done;
  };
  void Run();

  CURLM* const multi_;
  std::mutex mu_;
  int64_t next_id_ = 1;
  std::vector<std::pair<int64_t, Transfer>> to_add_;
  std::vector<int64_t> to_abort_;
  bool stopping_ = false;
  // The loop thread's own.
  std::map<int64_t, Transfer> running_;
  std::thread thread_;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_HTTP_CURL_LOOP_H_
