// An in-process fake of an OpenAI-compatible server (cpp-httplib) for the LLM client's tests:
// POST /v1/chat/completions answers by the requested model's name:
//   "ok"        streams "Hello", " there", "!" with a finish reason and usage, then [DONE];
//   "cut"       streams one token and ends without [DONE];
//   "slow"      streams a token every 1 ms for 10 s (to be cancelled; a client gone is seen
//               at the next write or the one after);
//   "story"     streams ten sentences, a word every 30 ms (a reply long enough to interrupt);
//   "tool"      calls the first tool the request declares (get_weather({"city":"Paris"}),
//               get_time({"timezone":"Asia/Tokyo"}), others with {}) in pieces, or get_weather
//               when none is declared; once the request carries the
//               tool's answer, says "Tool said: <answer>." (or "Tool failed: <error>.");
//   "tool_unknown"  the same, calling launch_rockets, which no request declares;
//   "malformed" streams data that is not JSON;
//   "401", "403", "404", "429", "503"  answer that HTTP status (429 with Retry-After: 3);
//   "429once"   answers 429 with Retry-After: 1 to its first request, then as "ok".
// Every answer's first token is timestamped by the user's last message (FirstTokenSent).
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LLM_FAKE_OPENAI_SERVER_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LLM_FAKE_OPENAI_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"

namespace httplib {
class Server;
}

namespace voxflow::orchestrator::testing {

class FakeOpenAiServer {
 public:
  // Over HTTPS with this certificate and key (PEM files) when set.
  struct Tls {
    std::string cert_file;
    std::string key_file;
  };
  // `streams`: answers served at once (one thread each, as a model server serves its concurrent
  // requests); more wait for one to end.
  explicit FakeOpenAiServer(std::optional<Tls> tls = std::nullopt, int streams = 8);
  ~FakeOpenAiServer();

  std::string base_url() const;  // http://127.0.0.1:PORT/v1, or https://localhost:PORT/v1.
  std::string last_body() const;
  std::vector<std::string> bodies() const;  // Every request's body, in order.
  // When the first token of the answer to the last user message `user_text` was written.
  std::optional<absl::Time> FirstTokenSent(const std::string& user_text) const;
  std::string last_authorization() const;
  int requests() const { return requests_; }
  // Waits until the next streaming answer (one not waited for before) found its client gone;
  // when that happened.
  bool WaitForDisconnect(absl::Duration timeout, absl::Time* when);

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  const bool tls_;
  mutable std::mutex mu_;
  std::condition_variable disconnected_cv_;
  std::vector<absl::Time> disconnects_;
  size_t disconnects_taken_ = 0;
  std::string last_body_;
  std::vector<std::string> bodies_;
  std::map<std::string, absl::Time> first_token_sent_;
  int requests_429once_ = 0;
  std::string last_authorization_;
  std::atomic<int> requests_{0};
};

}  // namespace voxflow::orchestrator::testing

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LLM_FAKE_OPENAI_SERVER_H_
