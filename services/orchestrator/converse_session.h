// ConverseSession: one conversation (one Converse stream), as plain C++ the gRPC reactor drives.
//
//   client audio -> input JitterBuffer (reorders, conceals gaps) -> 20 ms frames -> voice activity
//     detector -> UtteranceSegmenter -> the open Utterance -> the stt stage of its turn
//   tts stage -> output JitterBuffer -> paced to the client at real time, `output_lead` ahead
//
// Listening never stops: every input frame goes to exactly one utterance, in order, and the next
// utterance starts with the frame after the last one's end, whatever the turns are doing. A turn
// starts when its utterance has min_speech_ms of speech (or at END_OF_INPUT, or for typed text);
// its stt stage runs at once, while the stages after it are held until the turns before it have
// completed (they own the output and the memory). Voice over a reply pauses it within one frame;
// confirmed speech interrupts it (llm and tts cancelled, memory keeps only what was heard), other
// sounds let it resume (BargeInDetector).
//
// Threads: requests come in order from the stream's strand; Tick from the SessionTicker; stage
// events and reply audio from stage threads. One mutex guards the session; events go out through
// the sink without it being needed by the sink.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_CONVERSE_SESSION_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_CONVERSE_SESSION_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/backend.h"
#include "services/common/cancellation.h"
#include "services/common/opus_codec.h"
#include "services/common/streaming/jitter_buffer.h"
#include "services/common/timer_queue.h"
#include "services/orchestrator/conversation_memory.h"
#include "services/orchestrator/listening/barge_in_detector.h"
#include "services/orchestrator/listening/utterance.h"
#include "services/orchestrator/listening/utterance_segmenter.h"
#include "services/orchestrator/listening/voice_activity_detector.h"
#include "services/orchestrator/live_sessions.h"
#include "services/orchestrator/pipeline/dag_runner.h"
#include "services/orchestrator/pipeline/pipeline_registry.h"
#include "services/orchestrator/reply_playout.h"
#include "services/orchestrator/stages/turn_environment.h"
#include "services/orchestrator/tool_calls.h"
#include "services/orchestrator/voice_catalog.h"
#include "services/orchestrator/voice_metrics.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

struct SessionOptions {
  int frame_ms = 20;            // Reply audio frames.
  int output_lead_ms = 60;      // How far ahead of real time reply audio is sent.
  int input_target_ms = 40;     // Default input jitter-buffer delay.
  int output_buffer_ms = 3000;  // Reply audio held ahead; tts waits beyond it.
  // Silence before an utterance's speech kept with it (the recognizer hears the onset the
  // detector may have missed); older silence is counted and let go.
  int leading_silence_ms = 1000;
  EndpointingSettings endpointing;  // Defaults for SessionConfig.endpointing.
  BargeInSettings barge_in;         // Defaults for SessionConfig.barge_in.
  size_t max_chunk_bytes = 1 << 20;
  // A conversation longer than this ends with DEADLINE_EXCEEDED (zero: no limit).
  absl::Duration max_session_duration = absl::ZeroDuration();
  // A conversation that sent nothing for this long while no turn ran ends with DEADLINE_EXCEEDED
  // (zero: no limit). A caller with an open microphone is never idle.
  absl::Duration idle_timeout = absl::ZeroDuration();
};

// Shared by every session of a server.
struct SessionServices {
  const Backend* stt = nullptr;
  const Backend* tts = nullptr;
  ConversationMemory* memory = nullptr;
  const PipelineRegistry* pipelines = nullptr;
  TimerQueue* timers = &TimerQueue::Default();
  // Where stages start (the server's request pool: no threads of their own); null: the
  // process's DefaultStageExecutor.
  WorkerPool* stage_executor = nullptr;
  // The TTS backend's voices, to check config.voice and config.language; null: not checked.
  const VoiceCatalog* voices = nullptr;
  // The ids of the live conversations (an id is refused while in use); null: not checked.
  LiveSessions* live_sessions = nullptr;
  // One voice activity detector per session; null: WebRTC's.
  VadFactory vad_factory;
  // A turn's stages (tests drive the session with fakes); null: the built-in stage types over
  // `stt`, `tts` and `memory`.
  std::function<StageFactories(TurnEnvironment* turn)> stage_factories;
  SessionOptions options;
};

// Where a session's input audio went, in bytes of the input format: every byte pushed is in
// exactly one utterance or in the silence let go between them (the invariant the tests count).
struct InputAccounting {
  uint64_t pushed = 0;           // Read out of the input jitter buffer.
  uint64_t in_utterances = 0;    // Appended to an utterance (each goes to one stt stage).
  uint64_t silence_dropped = 0;  // Silence before an utterance, beyond leading_silence_ms.
  uint64_t pending = 0;          // Held for the next utterance.
  int utterances = 0;
};

class Turn;

class ConverseSession : public std::enable_shared_from_this<ConverseSession> {
 public:
  using EventSink = std::function<void(v1::ConverseEvent)>;
  using EndSink = std::function<void(const absl::Status&)>;

  static std::shared_ptr<ConverseSession> Create(const SessionServices& services, EventSink send,
                                                 EndSink end);
  ~ConverseSession();

  // The stream's requests, in order. An error ends the stream with it (INVALID_ARGUMENT for a
  // malformed request).
  absl::Status HandleRequest(v1::ConverseRequest request);
  // The client half-closed: finish the waiting input, then end the stream OK (INVALID_ARGUMENT,
  // at once, if no config was sent).
  absl::Status HandleEndOfInput();
  // The call is over (cancelled, failed or finished): stop every turn and backend call now, and
  // stop using the sinks.
  void Close();
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

  // INVALID_ARGUMENT naming the field of config.llm that is out of bounds.
  static absl::Status CheckLlmSettings(const v1::LlmSettings& llm);

 private:
  friend class Turn;
  // Puts the session back on the ticker if it left it.
  void WakeTicksLocked();
  // Whether Tick has nothing to do until the next request or timeout.
  bool IdleLocked() const;
  // Leaves the ticker: a timer wakes the session when its idle or duration limit is due.
  void SleepLocked(absl::Time now);
  using Actions = std::vector<std::function<void()>>;  // Run after the lock is released.
  enum class EndReason { kEndpoint, kEndOfInput, kHalfClose, kRecognizer };

  ConverseSession(const SessionServices& services, EventSink send, EndSink end);

  absl::Status Configure(const v1::SessionConfig& requested);
  absl::Status ConfigureTurnTaking(const v1::SessionConfig& config);
  absl::Status PushAudio(v1::AudioChunk chunk);
  // Queues a chunk waited in for another thread before the session handles it (the
  // voxflow_chunk_hand_overs metric). A request is handled on the gRPC thread that read it (none)
  // unless its stream's strand was busy (one: the strand's pool). Audio held in a buffer and sent
  // on by another thread (the ticker, a request, a stage's end) has one more. Reply audio sent on
  // the thread that read it from the TTS service has none.
  static int RequestHandOvers();
  static constexpr int kFromBuffer = 1;
  void DrainInputLocked(bool all, absl::Time now, int hand_overs, Actions& actions);
  // One frame of input: voice activity, the utterance it belongs to, barge-in.
  void ListenLocked(InputItem item, absl::Time now, Actions& actions);
  // Ends the open utterance (if a turn listens to it) and starts the next one.
  void EndUtteranceLocked(EndReason reason, absl::Time now, Actions& actions);
  void StartSpokenTurnLocked(absl::Time now, Actions& actions);
  void ApplyBargeInLocked(BargeInDetector::Action action, Actions& actions);
  bool ReplyPlayingLocked() const;
  void InterruptLocked(absl::string_view reason, Actions& actions);
  void PaceOutputLocked(absl::Time now, int hand_overs);
  void MaybeCompleteTurnLocked(absl::Time now, Actions& actions);
  // Completes the front turn: its report, memory after a barge-in.
  void CompleteTurnLocked(const std::shared_ptr<Turn>& turn, absl::Time now);
  void StartTurnLocked(const std::shared_ptr<Turn>& turn, Actions& actions);
  // The front turn owns the output: let its held stages run.
  void ReleaseFrontLocked(Actions& actions);
  void OnTurnDone(const std::shared_ptr<Turn>& turn, const TurnResult& result);
  void MaybeEndStreamLocked(Actions& actions);
  void SendUserSpeech(v1::UserSpeech::Type type, int64_t stream_ms, int turn_id);
  // Adds what the buffers counted since the last report to the metrics.
  void ReportTotalsLocked();

  // For turns (stage threads).
  void OnHeardWords(Turn* turn, int words);
  void OnRecognizerEndpoint(Turn* turn);
  ReplyOffer TryOfferReplyAudio(Turn* turn, v1::AudioChunk& audio, const std::string& text);
  void WhenReplyRoom(Turn* turn, size_t bytes, std::function<void()> on_room);
  // Wakes the tts waiting for room once it has it, or its turn may play no more.
  void WakeReplyRoomLocked(Actions& actions);
  // Sends `call` to the client as a ToolCall event and waits for its ToolResult.
  void CallTool(Turn* turn, const LlmToolCall& call, absl::Duration timeout,
                const std::shared_ptr<CancellationToken>& cancel, LlmToolAnswerSink answer);
  absl::Status HandleToolResult(const v1::ToolResult& result);

  void Send(v1::ConverseEvent event);
  void SendTelemetry(absl::string_view name, const streaming::EventAttributes& attributes);
  static void Run(Actions& actions);

  const SessionServices services_;
  const std::shared_ptr<CancellationToken> token_;

  std::mutex sink_mu_;  // Guards the sinks against Close.
  EventSink send_;
  EndSink end_;

  // Set once by Configure (on the strand) before anything else reads them.
  bool configured_ = false;
  v1::SessionConfig config_;
  std::string session_id_;
  std::shared_ptr<const PipelineGraph> pipeline_;
  bool telemetry_ = false;
  int input_target_ms_ = 0;
  std::unique_ptr<streaming::JitterBuffer> input_buffer_;
  std::unique_ptr<ReplyPlayout> playout_;
  double input_bytes_per_ms_ = 0;

  std::mutex mu_;
  bool closed_ = false;
  bool ending_ = false;  // Half-closed.
  uint64_t arrival_counter_ = 0;
  bool client_sequences_ = false;
  uint64_t input_sequence_ = 0;
  int request_hand_overs_ = 1;  // Of the last audio request (for audio the ticker drains).

  // Listening.
  std::unique_ptr<VoiceActivityDetector> vad_;
  std::unique_ptr<UtteranceSegmenter> segmenter_;
  std::unique_ptr<BargeInDetector> barge_in_;
  double stream_ms_ = 0;             // Input heard so far.
  std::deque<InputItem> leading_;    // The next utterance's audio, before its turn starts.
  std::shared_ptr<Turn> listening_;  // The turn whose utterance is open, if it started.
  // Arrival of the first and the last voiced frame since the last utterance ended.
  absl::Time first_voiced_ = absl::InfinitePast();
  absl::Time last_voiced_ = absl::InfinitePast();
  InputAccounting accounting_;

  // Turns in order; the front owns the output, the others listen or wait (held).
  std::deque<std::shared_ptr<Turn>> turns_;
  int turns_started_ = 0;
  StreamTotals reported_;  // What the metrics have been told of so far.
  const absl::Time created_ = absl::Now();
  std::atomic<int64_t> last_request_ns_{absl::ToUnixNanos(absl::Now())};
  bool expired_ = false;
  // What the client's audio arrives in (config_.input_format is what it is handled in: PCM16
  // for OPUS), and the decoder of an OPUS stream (strand only).
  v1::AudioStreamFormat wire_input_format_;
  std::unique_ptr<OpusStreamDecoder> opus_in_;
  uint64_t opus_sequence_ = 0;
  // Whether the session is on the ticker (or about to be): set by WakeTicksLocked, cleared by an
  // idle Tick.
  bool ticking_ = false;
  std::function<void()> wake_ticks_;
  ToolCalls tool_calls_;
  // A tts waiting for room in the output (at most one: only the front turn plays).
  std::function<void()> reply_room_waiter_;
  Turn* reply_room_turn_ = nullptr;
  size_t reply_room_bytes_ = 0;
  int64_t wake_timer_ = 0;   // Wakes an idle session when a timeout is due.
  bool id_claimed_ = false;  // session_id_ is held in services_.live_sessions.
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_CONVERSE_SESSION_H_
