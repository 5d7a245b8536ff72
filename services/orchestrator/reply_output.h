// ReplyOutput: the one place reply audio goes. It owns the ReplyPlayout (the output buffer and
// its pacing), knows which turn's reply plays (the front turn of the session: the turns after it
// wait), holds the tts that waits for room in a full output, and pauses, resumes and flushes the
// reply on barge-in. What it sends is accounted to the playing turn (its HeardReply, first audio,
// audio sent): the input to what the caller heard.
//
// Not thread-safe: the session's lock guards it. Nothing here calls out: a waiter woken is handed
// back to the session, which runs it once it has released its lock.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_REPLY_OUTPUT_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_REPLY_OUTPUT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "services/orchestrator/reply_playout.h"
#include "services/orchestrator/session_events.h"
#include "services/orchestrator/stages/turn_environment.h"
#include "services/orchestrator/turn.h"
#include "voxflow/v1/audio.pb.h"

namespace voxflow::orchestrator {

class ReplyOutput {
 public:
  explicit ReplyOutput(std::unique_ptr<ReplyPlayout> playout);

  // The turn that owns the output from now on (null: none, or the session is over).
  void Play(std::shared_ptr<Turn> turn);
  const std::shared_ptr<Turn>& playing() const { return playing_; }

  // Reply audio of turn `turn_id` speaking `text`: kTaken (moved into the output), kFull (wait
  // for room with AwaitRoom) or kRefused (that turn plays no more: not the playing one, or
  // interrupted).
  ReplyOffer Offer(int turn_id, v1::AudioChunk& audio, const std::string& text);
  // The tts of `turn_id` waits for room for `bytes` (one waiter at a time: one turn plays).
  void AwaitRoom(int turn_id, size_t bytes, std::function<void()> on_room);
  // The waiter, if it may go on now: its turn has room, or plays no more. Null otherwise.
  std::function<void()> TakeWokenWaiter();

  // The playing turn's frames due at `now`.
  ReplyPlayout::Paced Pace(absl::Time now);
  // Sends them to `events` (and a telemetry event when the caller's audio runs out mid-reply);
  // each frame counts `hand_overs` (the voxflow_chunk_hand_overs metric).
  // Returns their audio as sent (PCM16 in the output format, before any encoding) and when it is
  // due to play.
  struct Played {
    std::string pcm;
    absl::Time starts;
    std::vector<ReplyPlayout::Spoken> spoken;
  };
  Played SendDue(absl::Time now, int hand_overs, SessionEvents& events);
  // Reply audio is going out (or held by a pause): voice over it is a barge-in.
  bool Playing() const;
  // Audio still to send of the playing turn's reply.
  bool HasAudio() const { return playout_->bytes_buffered() > 0; }

  // Voice over the reply: hold it, or let it go on.
  void Pause() { playout_->set_paused(true); }
  void Resume() { playout_->set_paused(false); }
  // The same, counted (voxflow_barge_ins) and told to `events` (turn.reply_paused, _resumed) with
  // the input stream's position `stream_ms`.
  void Hold(bool paused, double stream_ms, SessionEvents& events);
  // Barge-in: the caller hears nothing more of the playing turn; returns the ms dropped.
  double Flush(absl::Time now) { return playout_->Flush(now); }
  // The playing turn's reply is over: ready for the next.
  void EndReply() { playout_->EndReply(); }
  int64_t underruns() const { return playout_->underruns(); }
  // The session is over: no turn plays, the waiter is dropped (its stage is cancelled).
  void Close();

 private:
  bool Plays(int turn_id) const;

  const std::unique_ptr<ReplyPlayout> playout_;
  std::shared_ptr<Turn> playing_;
  std::function<void()> room_waiter_;
  int room_turn_id_ = 0;
  size_t room_bytes_ = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_REPLY_OUTPUT_H_
