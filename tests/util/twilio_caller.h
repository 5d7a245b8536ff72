// TwilioCaller: a phone call as Twilio Media Streams makes it, for tests and benchmarks. It
// connects to a gateway's /twilio (signed with X-Twilio-Signature when given Twilio's auth
// token), sends `connected` and `start` (mu-law 8000 Hz mono, the custom parameters), then
// `media` every 20 ms at real time, always: the clips given to Say(), silence between them, and
// never an end of input. Reply `media` is "played" at real time into a buffer as Twilio's would
// be: a `mark` is echoed once the audio before it has played, `clear` empties the buffer and
// echoes every mark still in it at once.
#ifndef VOXFLOW_TESTS_UTIL_TWILIO_CALLER_H_
#define VOXFLOW_TESTS_UTIL_TWILIO_CALLER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/util/websocket_client.h"

namespace voxflow::testing {

class TwilioCaller {
 public:
  struct Options {
    std::map<std::string, std::string> custom_parameters;
    std::string twilio_auth_token;  // Set: the upgrade is signed with it.
    std::string call_sid = "CA00000000000000000000000000000001";
    std::string stream_sid = "MZ00000000000000000000000000000001";
  };
  // What came back, as the caller's phone saw it.
  struct Heard {
    std::string reply_audio;              // Every media payload, decoded (mu-law bytes).
    int media = 0;                        // media messages received
    std::vector<absl::Time> media_times;  // When each arrived.
    absl::Time first_media = absl::InfinitePast();
    absl::Time last_media = absl::InfinitePast();
    std::vector<std::string> played_marks;   // Echoed because their audio played.
    std::vector<std::string> cleared_marks;  // Echoed because a clear dropped their audio.
    std::vector<absl::Time> clears;
    std::vector<std::string> unexpected;  // Messages Twilio would not accept.
  };

  static absl::StatusOr<std::unique_ptr<TwilioCaller>> Call(int port, Options options);
  ~TwilioCaller();  // Hangs up if still connected.

  // Queues `pcm16k` (16 kHz mono PCM16, sent as mu-law 8 kHz); a ticket for WaitSaid.
  int Say(const std::string& pcm16k);
  // When the first and last chunk of `ticket` went out.
  std::pair<absl::Time, absl::Time> WaitSaid(int ticket);
  // Waits until `done(heard)` holds; false at the deadline.
  bool WaitFor(const std::function<bool(const Heard&)>& done, absl::Duration timeout);
  Heard heard();
  // Sends `stop` and stops streaming (Twilio's hang-up).
  void HangUp();
  WebSocketClient& socket() { return *socket_; }

 private:
  explicit TwilioCaller(Options options) : options_(std::move(options)) {}
  void OnMessage(const WebSocketClient::Message& message);
  // Twilio's acknowledgement of the mark `name`.
  void EchoMark(const std::string& name);
  void Run();
  std::string Sequence() { return std::to_string(++sequence_number_); }

  const Options options_;
  std::unique_ptr<WebSocketClient> socket_;
  std::mutex mu_;
  std::condition_variable changed_;
  Heard heard_;
  absl::Time playout_end_ = absl::InfinitePast();  // When the buffered reply audio has played.
  std::deque<std::pair<std::string, absl::Time>> marks_;  // Name, when its audio has played.
  std::deque<std::string> pending_clips_;
  std::map<int, std::pair<absl::Time, absl::Time>> said_;
  int tickets_ = 0;
  std::atomic<int> sequence_number_{0};
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_TWILIO_CALLER_H_
