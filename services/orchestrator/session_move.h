// SessionMove: a draining server moving one session to another replica. The move waits for a
// turn boundary (no turn running, no utterance open, no reply audio left), so that the caller
// loses nothing and hears no reply cut, but no longer than `bound`: a caller who never pauses
// still moves (the turn in flight is then lost, and the new replica says so). Only a client that
// follows moves (SessionConfig.follows_moves) is moved; others drain as before.
//
// It also counts the caller's audio taken until the move: the client re-sends the rest on the
// new stream. Not thread-safe (the session's lock guards it); time is passed in.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_MOVE_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_MOVE_H_

#include <cstdint>

#include "absl/time/time.h"

namespace voxflow::orchestrator {

class SessionMove {
 public:
  SessionMove(bool client_follows, absl::Duration bound)
      : client_follows_(client_follows), bound_(bound) {}

  // The server drains. False when the client does not follow moves (nothing changes).
  bool Request(absl::Time now);
  // Whether to move now: asked to, not moved yet, and at a turn boundary or past the bound.
  bool Due(bool at_boundary, absl::Time now) const;
  // Whether the move is forced: past the bound, not at a boundary.
  bool Forced(bool at_boundary, absl::Time now) const {
    return Due(at_boundary, now) && !at_boundary;
  }
  void Moved() { moved_ = true; }
  bool requested() const { return requested_; }
  bool moved() const { return moved_; }

  // `bytes` of AudioChunk.data came. False once moved: they are not used (the client sends them
  // again on the new stream).
  bool TakeAudio(int64_t bytes);
  int64_t audio_bytes_used() const { return audio_bytes_used_; }

 private:
  const bool client_follows_;
  const absl::Duration bound_;
  bool requested_ = false;
  bool moved_ = false;
  absl::Time requested_at_;
  int64_t audio_bytes_used_ = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_MOVE_H_
