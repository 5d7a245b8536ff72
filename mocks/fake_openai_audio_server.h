// An in-process fake of an OpenAI-compatible audio server (cpp-httplib), for tests and
// benchmarks of the `openai` STT and TTS providers; nothing in it needs a network.
//   POST /v1/audio/transcriptions  multipart (file, model, language, prompt, response_format,
//       stream): transcribes the WAV with pocketsphinx, or answers the scripted texts in turn;
//       `json`, `verbose_json` (words and segments), or with stream=true server-sent
//       transcript.text.delta events (a word each) and transcript.text.done.
//   POST /v1/audio/speech  JSON (model, input, voice, response_format pcm|wav, speed): speaks
//       `input` with espeak-ng at 24 kHz, streamed as it is "rendered" (a chunk per interval).
//   GET  /v1/audio/voices  {"voices": [...]} (as Kokoro-FastAPI lists them).
// Either endpoint can be scripted to fail: an HTTP status (with Retry-After), a slow first byte,
// a body cut halfway, a malformed body.
#ifndef VOXFLOW_MOCKS_FAKE_OPENAI_AUDIO_SERVER_H_
#define VOXFLOW_MOCKS_FAKE_OPENAI_AUDIO_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace voxflow::stt {
class PocketsphinxEngine;
}

namespace voxflow::mocks {

struct FakeAudioFault {
  int status = 0;           // Answer this HTTP status (0: answer normally).
  std::string retry_after;  // Its Retry-After header, when set.
  absl::Duration first_byte_delay = absl::ZeroDuration();  // Wait before answering.
  bool cut = false;        // Close the connection halfway through the body.
  bool malformed = false;  // A body that is not what the API says.
};

struct FakeAudioServerOptions {
  int threads = 8;  // Requests served at once.
  std::string pocketsphinx_model_dir = "/usr/share/pocketsphinx/model/en-us";
  bool verbose_json = true;         // Without: 400 to response_format=verbose_json.
  bool streams_transcripts = true;  // Without: stream=true is ignored (a whole json body).
  bool lists_voices = true;
  std::vector<std::string> voices = {"alloy", "nova"};
  int speech_chunk_ms = 40;  // Audio per write of a speech answer,
  absl::Duration speech_chunk_interval = absl::Milliseconds(20);  // one write per this.
  absl::Duration transcription_delay = absl::ZeroDuration();      // Before each answer.
};

class FakeOpenAiAudioServer {
 public:
  enum class Endpoint { kTranscriptions, kSpeech };
  struct Request {
    std::string path;
    std::string authorization;
    std::string content_type;
    std::multimap<std::string, std::string> fields;  // Multipart fields (file: its bytes).
    std::map<std::string, std::string> filenames;    // Multipart file names by field.
    std::string body;                                // A JSON request's body.
    absl::Time received;                             // Its headers; its body was read after.
    absl::Time first_byte_sent;
    absl::Time answered;  // Its last byte written.
    int status = 200;
    std::string scripted;  // The scripted transcript it was given (concurrent requests race).
  };

  explicit FakeOpenAiAudioServer(FakeAudioServerOptions options = {});
  ~FakeOpenAiAudioServer();

  std::string base_url() const;  // http://127.0.0.1:PORT/v1
  int port() const { return port_; }

  // Transcriptions answer these in turn (then pocketsphinx again).
  void ScriptTranscripts(std::vector<std::string> texts);
  // The next `times` requests to `endpoint` fail so (-1: every one until Heal).
  void Fail(Endpoint endpoint, FakeAudioFault fault, int times = -1);
  void Heal();

  std::vector<Request> requests() const;
  int count(Endpoint endpoint) const;
  // Waits until `n` requests to `endpoint` have arrived in all; false after `timeout`.
  bool WaitForRequests(Endpoint endpoint, int n, absl::Duration timeout) const;

 private:
  FakeAudioFault TakeFault(Endpoint endpoint);
  size_t Record(const httplib::Request& request);
  void Update(size_t index, absl::Time first_byte, absl::Time answered, int status);
  std::string Transcribe(const std::string& wav);
  // Sleeps; false when the server is stopping.
  bool Pause(absl::Duration duration);

  const FakeAudioServerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<stt::PocketsphinxEngine> pocketsphinx_;
  mutable std::mutex mu_;
  mutable std::condition_variable arrived_;
  std::map<std::string, std::string> rendered_;  // Speech by its text: each is rendered once.
  std::deque<std::string> scripted_;
  std::map<Endpoint, std::pair<FakeAudioFault, int>> faults_;
  std::vector<Request> requests_;
};

}  // namespace voxflow::mocks

#endif  // VOXFLOW_MOCKS_FAKE_OPENAI_AUDIO_SERVER_H_
