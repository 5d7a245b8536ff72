// ConverseResumer: the client's side of a session that outlives its stream. It remembers the
// session's resume token and the audio sent lately, and says what the next stream must carry:
// after a Reconnect event (the server is draining), the config with the token, then every audio
// chunk the old stream did not use (past Reconnect.audio_bytes_used), so nothing is lost or heard
// twice; after a stream that failed as UNAVAILABLE (its server went away), the config with the
// token and the audio of the turn in flight, from 500 ms before its speech began (the lost server
// never answered it; the new one hears it again): the conversation goes on from its last
// completed turn. (Not for Opus input, whose bytes are not a measure of time.)
//
// Plain and single-threaded: the client's stream code calls it under its own lock. Used by
// voxctl, the gateway and the tests.
#ifndef VOXFLOW_SERVICES_COMMON_CONVERSE_RESUMER_H_
#define VOXFLOW_SERVICES_COMMON_CONVERSE_RESUMER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow {

class ConverseResumer {
 public:
  // `config`: the session's (follows_moves is set on it). `max_replay_bytes`: audio kept to send
  // again (the newest; far more than a stream has in flight).
  explicit ConverseResumer(v1::SessionConfig config, int64_t max_replay_bytes = 1 << 20,
                           int max_resumes = 10);

  // The first request of the first stream.
  v1::ConverseRequest FirstRequest() const;
  // An audio chunk sent on the current stream.
  void AudioSent(const v1::AudioChunk& chunk);

  enum class Next { kContinue, kReconnect };
  // An event of the current stream. kReconnect: the server moves the session; the stream ends
  // next (OK), and the client opens another with ResumeRequests().
  Next OnEvent(const v1::ConverseEvent& event);
  // Whether a stream that ended with `status` (not after a Reconnect) should be resumed: its
  // server went away (UNAVAILABLE) and the session's token is known; or a resumed stream failed
  // before it started (it reached a server that is shutting down: UNAVAILABLE or CANCELLED).
  bool ShouldResume(const absl::Status& status) const;
  // How long to wait before the next stream: nothing after a move; after a resumed stream that
  // failed before it started, 50 ms doubling (the channel's next server needs a moment to be
  // picked).
  absl::Duration RetryDelay() const;

  // The next stream's first requests: the config with the resume token, then the audio the last
  // stream did not use. Counts a resume.
  std::vector<v1::ConverseRequest> ResumeRequests();

  const std::string& session_id() const { return session_id_; }
  const std::string& resume_token() const { return resume_token_; }
  int resumes() const { return resumes_; }
  // Bytes of AudioChunk.data sent on the current stream.
  int64_t stream_audio_bytes() const { return stream_bytes_; }

 private:
  struct Sent {
    int64_t end;  // Stream offset (bytes of AudioChunk.data) after this chunk.
    v1::AudioChunk chunk;
  };

  v1::SessionConfig config_;
  const int64_t max_replay_bytes_;
  const int max_resumes_;
  std::string session_id_;
  std::string resume_token_;
  std::deque<Sent> sent_;  // The newest chunks of the current stream.
  int64_t kept_bytes_ = 0;
  int64_t stream_bytes_ = 0;
  bool moving_ = false;
  int64_t used_bytes_ = 0;  // Reconnect.audio_bytes_used.
  int resumes_ = 0;
  // Turns of the current stream whose speech began and that have not completed: where their
  // audio begins (stream offset, 500 ms before the speech).
  std::map<int, int64_t> open_turns_;
  bool awaiting_start_ = false;  // A resumed stream has not started yet.
  int failed_starts_ = 0;        // Resumed streams in a row that failed before they started.
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_CONVERSE_RESUMER_H_
