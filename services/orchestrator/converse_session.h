// ConverseSession: one conversation (one Converse stream), as plain C++ the gRPC reactor drives.
//
//   client audio -> input JitterBuffer (reorders, conceals gaps) -> input ChunkQueue -> stt stage
//   tts stage -> output JitterBuffer -> paced to the client at real time, `output_lead` ahead
//
// A turn is one run of the pipeline's DAG; it starts when user input (audio or text) is waiting
// and no turn is running, and ends when its DAG is done and its reply audio has been sent. While a
// reply plays, an INTERRUPT or the user's voice (an energy detector on the input) is a barge-in:
// llm and tts are cancelled, the output is flushed at once, and memory keeps only what was heard.
//
// Threads: requests come in order from the stream's strand; Tick from the SessionTicker; stage
// events and reply audio from stage threads. One mutex guards the session; events go out through
// the sink without it being needed by the sink.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_CONVERSE_SESSION_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_CONVERSE_SESSION_H_

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/cancellation.h"
#include "services/common/streaming/chunk_queue.h"
#include "services/common/streaming/jitter_buffer.h"
#include "services/common/timer_queue.h"
#include "services/orchestrator/backend.h"
#include "services/orchestrator/conversation_memory.h"
#include "services/orchestrator/pipeline/dag_runner.h"
#include "services/orchestrator/pipeline/pipeline_registry.h"
#include "services/orchestrator/stages/turn_environment.h"
#include "services/orchestrator/voice_metrics.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

struct SessionOptions {
  int frame_ms = 20;                 // Reply audio frames.
  int output_lead_ms = 60;           // How far ahead of real time reply audio is sent.
  int input_target_ms = 40;          // Default input jitter-buffer delay.
  int output_buffer_ms = 3000;       // Reply audio held ahead; tts waits beyond it.
  size_t input_queue_chunks = 1500;  // 30 s of 20 ms chunks between input and stt.
  double barge_in_dbfs = -30;        // Input level that counts as the user speaking.
  int barge_in_min_speech_ms = 60;   // Speech this long during a reply is a barge-in.
  size_t max_chunk_bytes = 1 << 20;
  // A conversation longer than this ends with DEADLINE_EXCEEDED (zero: no limit).
  absl::Duration max_session_duration = absl::ZeroDuration();
};

// Shared by every session of a server.
struct SessionServices {
  const Backend* stt = nullptr;
  const Backend* tts = nullptr;
  ConversationMemory* memory = nullptr;
  const PipelineRegistry* pipelines = nullptr;
  TimerQueue* timers = &TimerQueue::Default();
  SessionOptions options;
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
  // Pacing and bookkeeping; false once the session is closed.
  bool Tick(absl::Time now);

  const std::string& session_id() const { return session_id_; }

 private:
  friend class Turn;
  using Actions = std::vector<std::function<void()>>;  // Run after the lock is released.

  ConverseSession(const SessionServices& services, EventSink send, EndSink end);

  absl::Status Configure(const v1::SessionConfig& config);
  absl::Status PushAudio(v1::AudioChunk chunk);
  void DrainInputLocked(bool all, absl::Time now, Actions& actions);
  void EndUtteranceLocked(absl::Time now);
  void DetectBargeInLocked(const std::string& frame, Actions& actions);
  void InterruptLocked(absl::string_view reason, Actions& actions);
  void PaceOutputLocked(absl::Time now);
  void MaybeCompleteTurnLocked(absl::Time now, Actions& actions);
  void MaybeStartTurnLocked(Actions& actions);
  void StartTurnLocked(std::optional<std::string> text, Actions& actions);
  void OnTurnDone(const std::shared_ptr<Turn>& turn, const TurnResult& result);
  bool HasWaitingInputLocked();
  // Adds what the queues and buffers counted since the last report to the metrics.
  void ReportTotalsLocked();

  // For turns (stage threads).
  std::optional<InputItem> NextInput(const CancellationToken& cancel);
  void ReturnInput(std::vector<InputItem> items);
  bool OfferReplyAudio(Turn* turn, v1::AudioChunk audio, const std::string& text,
                       const CancellationToken& cancel);

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
  std::unique_ptr<streaming::JitterBuffer> output_buffer_;
  std::unique_ptr<streaming::ChunkQueue<InputItem>> input_queue_;
  size_t output_frame_bytes_ = 0;
  double output_bytes_per_ms_ = 0;

  std::mutex mu_;
  bool closed_ = false;
  bool ending_ = false;  // Half-closed.
  uint64_t arrival_counter_ = 0;
  bool client_sequences_ = false;
  bool audio_since_end_ = false;  // Audio pushed since the last end of utterance.
  uint64_t input_sequence_ = 0;
  std::deque<InputItem> returned_input_;  // Given back by a turn: read before the queue.
  std::deque<std::string> waiting_texts_;
  int speech_ms_ = 0;  // Consecutive loud input during a reply.

  std::shared_ptr<Turn> turn_;
  int turns_started_ = 0;
  uint64_t output_sequence_ = 0;
  absl::Time playout_end_ = absl::InfinitePast();  // When the client will have played all sent.
  bool output_underrun_ = false;
  int64_t output_underruns_ = 0;
  StreamTotals reported_;  // What the metrics have been told of so far.
  const absl::Time created_ = absl::Now();
  bool expired_ = false;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_CONVERSE_SESSION_H_
