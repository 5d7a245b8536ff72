// ConverseSession: one conversation (one Converse stream), as plain C++ the gRPC reactor drives.
// It keeps the protocol (requests in, events out), the queue of turns and the session's
// lifecycle; what it owns does the rest and reports back through small interfaces:
//
//   client audio -> Listener (input jitter buffer, voice activity, utterances, barge-in)
//     -> ListenerHooks: an utterance started (a Turn is queued and its stt stage starts),
//        ended, or voice over the reply (pause, resume, interrupt)
//   a Turn's stages -> TurnHost (this session): transcripts, reply text, tool calls, reply audio
//     -> ReplyOutput (the output buffer, paced to the client at real time, `output_lead` ahead)
//
// A turn's stt stage runs at once, while the stages after it are held until the turns before it
// have completed (the front turn owns the output and the memory). Configuration is checked and
// built in session_config.h.
//
// Threads: requests come in order from the stream's strand; Tick from the SessionTicker; stage
// events and reply audio from stage threads. One mutex guards the session and what it owns; what
// calls out (a stage's start or release, a waiter, an utterance's reader, which writes to the
// stt backend) is deferred and run after it is released. Events go out through the sink.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_CONVERSE_SESSION_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_CONVERSE_SESSION_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/cancellation.h"
#include "services/orchestrator/client_tools.h"
#include "services/orchestrator/listening/listener.h"
#include "services/orchestrator/pipeline/dag_runner.h"
#include "services/orchestrator/reply_output.h"
#include "services/orchestrator/session_events.h"
#include "services/orchestrator/session_lifetime.h"
#include "services/orchestrator/session_move.h"
#include "services/orchestrator/session_mutex.h"
#include "services/orchestrator/session_services.h"
#include "services/orchestrator/turn.h"
#include "services/orchestrator/turn_host.h"
#include "services/orchestrator/turn_queue.h"
#include "services/orchestrator/voice_metrics.h"
#include "services/orchestrator/wire_input.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

class ConverseSession : public TurnHost,
                        private ListenerHooks,
                        public LiveSession,
                        public std::enable_shared_from_this<ConverseSession> {
 public:
  using EventSink = SessionEvents::EventSink;
  using EndSink = SessionEvents::EndSink;

  static std::shared_ptr<ConverseSession> Create(const SessionServices& services, EventSink send,
                                                 EndSink end);
  ~ConverseSession() override = default;

  // The stream's requests, in order. An error ends the stream with it (INVALID_ARGUMENT for a
  // malformed request).
  absl::Status HandleRequest(v1::ConverseRequest request);
  // The client half-closed: finish the waiting input, then end the stream OK (INVALID_ARGUMENT,
  // at once, if no config was sent).
  absl::Status HandleEndOfInput();
  // The call is over (cancelled, failed or finished): stop every turn and backend call now, and
  // stop using the sinks. `conversation_over`: the stream ended OK, so the conversation is over
  // for good (unless the session moved); otherwise it stays resumable where a shared store keeps
  // it.
  void Close(bool conversation_over = false);
  // Pacing and bookkeeping while there is something to pace: false once the session is closed,
  // or idle (no input waiting, no turn, no reply audio). An idle session costs no ticks: `wake`
  // (see SetTickWaker) brings the ticks back on its next request, or when a timeout (idle,
  // session duration) is due.
  bool Tick(absl::Time now);
  // How the session asks for ticks again (the stream adds it to the SessionTicker); called at
  // once to start them. Call once, before the first request.
  void SetTickWaker(std::function<void()> wake);

  const std::string& session_id() const { return session_id_; }
  InputAccounting input_accounting();
  // Whether this thread holds the session's lock (tests check that backend I/O runs without it).
  bool LockHeldByThisThread() const { return mu_.HeldByThisThread(); }

  // TurnHost: what the turns' stages report (stage threads).
  void Send(v1::ConverseEvent event) override { events_.Send(std::move(event)); }
  void SendTelemetry(absl::string_view name,
                     const streaming::EventAttributes& attributes) override {
    events_.SendTelemetry(name, attributes);
  }
  void OnHeard(int turn_id, const std::string& transcript) override;
  void OnRecognizerEndpoint(int turn_id) override;
  bool IsEchoOfReply(int turn_id, const std::string& transcript) override;
  ReplyOffer OfferReplyAudio(int turn_id, v1::AudioChunk& audio, const std::string& text) override;
  void WhenReplyRoom(int turn_id, size_t bytes, std::function<void()> on_room) override;
  void CallTool(int turn_id, const LlmToolCall& call, absl::Duration timeout,
                const std::shared_ptr<CancellationToken>& cancel,
                LlmToolAnswerSink answer) override {
    client_tools_.Call(turn_id, call, timeout, cancel, std::move(answer));
  }

 private:
  using Lock = std::unique_lock<SessionMutex>;

  ConverseSession(const SessionServices& services, EventSink send, EndSink end);

  absl::Time Now() const { return services_.clock ? services_.clock() : absl::Now(); }
  // Releases `lock`, then runs what was deferred under it.
  void Unlock(Lock& lock);
  void Defer(std::function<void()> action) { deferred_.push_back(std::move(action)); }

  absl::Status Configure(const v1::SessionConfig& requested);
  absl::Status PushAudio(v1::AudioChunk chunk);
  absl::Status PushToListenerLocked(std::vector<v1::AudioChunk> chunks);
  // The listener's jitter buffer's counts with what happened to Opus packets before it.
  streaming::JitterBufferStats InputStatsLocked() const {
    streaming::JitterBufferStats stats = listener_->input_stats();
    wire_stats_.AddTo(stats);
    return stats;
  }
  // Queues a chunk waited in for another thread before the session handles it (the
  // voxflow_chunk_hand_overs metric). A request is handled on the gRPC thread that read it (none)
  // unless its stream's strand was busy (one: the strand's pool). Audio held in a buffer and sent
  // on by another thread (the ticker, a request, a stage's end) has one more. Reply audio sent on
  // the thread that read it from the TTS service has none.
  static int RequestHandOvers();
  static constexpr int kFromBuffer = 1;
  // The recognizer's end of an utterance is taken after this long without voice.
  static constexpr double kRecognizerQuietMs = 200;
  absl::Status StartTypedTurn(std::string text);
  // Whether turn `turn_id`'s utterance is the one open.
  bool ListeningToLocked(int turn_id) const {
    return !closed_ && listening_ != nullptr && listening_->turn_id() == turn_id;
  }
  std::shared_ptr<Turn> NewTurnLocked(std::optional<std::string> text,
                                      std::shared_ptr<Utterance> utterance);

  // ListenerHooks (under the lock).
  void OnUtteranceStarted(std::shared_ptr<Utterance> utterance, absl::Time speech_began,
                          int64_t stream_ms) override;
  void OnUtteranceEnded(absl::Time end_of_speech, absl::Time declared, int64_t stream_ms) override;
  void OnVoiceOverReply(BargeInDetector::Action action) override;
  bool ReplyPlaying() const override;

  // LiveSession (any thread, without the lock).
  void EndTakenOver() override;
  void MoveAway() override;
  // Whether nothing is in flight: no turn, no utterance, no reply audio (input held in the
  // jitter buffer is drained first: it may open an utterance).
  bool AtTurnBoundaryLocked(absl::Time now);
  // Moves the session now if a move is due: a Reconnect event, then the stream ends OK.
  void MaybeMoveLocked(absl::Time now);
  // The turn counters changed: the resumable record is saved.
  void SaveRecordLocked();
  SessionRecord TurnCountersLocked() const { return {turns_started_, turns_settled_, ""}; }
  // A resumed session: its SessionStarted, and the turn the last stream left unfinished.
  void AnnounceStartLocked();

  void InterruptLocked(absl::string_view reason);
  // The reply audio due at `now` goes out; the listener hears what went (its echo canceller).
  void SendReplyDueLocked(absl::Time now, int hand_overs);
  void WakeReplyRoomLocked();
  void StartTurnLocked(const std::shared_ptr<Turn>& turn);
  // The front turn owns the output: let its held stages run.
  void ReleaseFrontLocked();
  void OnTurnDone(const std::shared_ptr<Turn>& turn, const TurnResult& result);
  void MaybeCompleteTurnLocked(absl::Time now);
  // Completes the front turn: its report, memory after a barge-in.
  void CompleteTurnLocked(const Turn& turn, absl::Time now);
  void MaybeEndStreamLocked();
  // Adds what the buffers counted since the last report to the metrics.
  void ReportTotalsLocked();

  // Whether Tick has nothing to do until the next request or timeout.
  bool IdleLocked() const;

  const SessionServices services_;
  const std::shared_ptr<CancellationToken> token_;

  SessionEvents events_;

  // Set once by Configure (on the strand) before anything else reads them.
  bool configured_ = false;
  std::shared_ptr<const v1::SessionConfig> config_;
  std::string session_id_;
  std::shared_ptr<const PipelineGraph> pipeline_;
  std::unique_ptr<WireInput> wire_input_;  // Strand only.
  WireInputStats wire_stats_;              // wire_input_'s, as of the last audio pushed.

  SessionMutex mu_;
  std::vector<std::function<void()>> deferred_;  // Run by Unlock.
  bool closed_ = false;
  bool ending_ = false;         // Half-closed.
  int request_hand_overs_ = 1;  // Of the last audio request (for audio the ticker drains).
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<ReplyOutput> output_;
  std::shared_ptr<Turn> listening_;  // The turn whose utterance is open, if it started.

  // Turns in order; the front owns the output, the others listen or wait (held).
  TurnQueue turns_;
  int turns_started_ = 0;
  StreamTotals reported_;     // What the metrics have been told of so far.
  SessionLifetime lifetime_;  // Limits, and whether the session is on the ticker.
  ClientTools client_tools_;
  int turns_settled_ = 0;  // Every turn up to this id completed or was discarded.
  // The session's hold on its id (services_.resumption); empty owner: none.
  SessionClaim claim_;
  bool taken_over_ = false;
  std::unique_ptr<SessionMove> move_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_CONVERSE_SESSION_H_
