// TurnEnvironment: what the stages of one turn need from their session. The session implements
// it; stages stay plain C++ that a test can drive with a fake.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_TURN_ENVIRONMENT_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_TURN_ENVIRONMENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/cancellation.h"
#include "services/common/timer_queue.h"
#include "services/orchestrator/listening/input_item.h"
#include "services/orchestrator/llm_client.h"
#include "voxflow/v1/audio.pb.h"
#include "voxflow/v1/orchestrator.pb.h"
#include "voxflow/v1/stt.pb.h"

namespace voxflow::orchestrator {

// Moments of a turn, for its latency breakdown.
enum class TurnMark {
  kEndOfSpeech,      // The last voiced input frame of the utterance arrived.
  kEndOfTurn,        // The utterance was declared over (endpointing, END_OF_INPUT, recognizer).
  kFinalTranscript,  // The final transcript arrived.
  kLlmFirstToken,
  kFirstSentence,  // The first complete sentence of the reply reached tts.
  kTtsFirstByte,   // The first reply audio arrived from the TTS service.
};

enum class ReplyOffer { kTaken, kFull, kRefused };

// Where the stages of a turn read the time and set their timers: the session's, so that a test
// drives what they mark. Timers run on the queue's own (real) time; `After` is relative for
// that reason.
struct TurnClock {
  std::function<absl::Time()> now;  // Null: absl::Now.
  TimerQueue* timers = &TimerQueue::Default();

  absl::Time Now() const;
  // Runs `callback` on the timer queue `delay` from now; returns the timer's id for Cancel.
  int64_t After(absl::Duration delay, std::function<void()> callback) const;
  void Cancel(int64_t timer) const { timers->Cancel(timer); }
};

class TurnEnvironment {
 public:
  virtual ~TurnEnvironment() = default;

  virtual int turn_id() const = 0;
  virtual const std::string& session_id() const = 0;
  virtual const v1::SessionConfig& config() const = 0;
  // The user's text for a typed turn; nullopt for a spoken one.
  virtual const std::optional<std::string>& text_input() const = 0;
  // The session's clock and timers.
  virtual const TurnClock& clock() const = 0;

  // Records `mark` at `when` (the first time only).
  virtual void Mark(TurnMark mark, absl::Time when) = 0;

  // stt: the next input of this turn's utterance, ending with an end_of_utterance item; nullopt
  // after that item or once `cancel` fires.
  virtual std::optional<InputItem> NextInput(const std::shared_ptr<CancellationToken>& cancel) = 0;
  // stt, event-driven: `on_input` is called whenever input of this turn's utterance arrives or
  // it ends (on the session's threads, possibly under its locks: it may only take items with
  // TryNextInput, never call back into the environment), and at once if input waits. False for
  // a turn without an utterance (typed). StopWatchingInput drops it.
  virtual bool WatchInput(std::function<void()> on_input) = 0;
  virtual void StopWatchingInput() = 0;
  // The next input item now; nullopt when none waits or the end item was taken.
  virtual std::optional<InputItem> TryNextInput() = 0;
  virtual void OnTranscript(const v1::Transcript& transcript) = 0;
  // stt: whether the utterance's final `transcript` is the reply's own voice come back from the
  // caller's side (a speakerphone): the turn is then not answered.
  virtual bool HeardEchoOfReply(const std::string& transcript) = 0;
  // The recognizer's own speech events (its END_OF_UTTERANCE is a second end-of-turn signal).
  virtual void OnSpeechEvent(const v1::SpeechEvent& event) = 0;

  // llm: the next piece of the reply text (`is_final` on the last, possibly empty, piece).
  virtual void OnReplyText(absl::string_view piece, bool is_final) = 0;
  // llm: what the model server said the reply cost (added up over attempts).
  virtual void OnLlmReport(const LlmReport& report) = 0;
  // llm: asks the caller to run a tool (a ToolCall event); its ToolResult goes to `answer`, or
  // an error answer when none came within `timeout` or once `cancel` fired. Never waits.
  virtual void CallTool(const LlmToolCall& call, absl::Duration timeout,
                        const std::shared_ptr<CancellationToken>& cancel,
                        LlmToolAnswerSink answer) = 0;
  // A stage worked around a failure (e.g. the llm stage spoke its fallback reply): the turn lists
  // `degradation` and the caller gets a recoverable ErrorEvent with `why`.
  virtual void OnDegraded(absl::string_view stage, absl::string_view degradation,
                          const absl::Status& why) = 0;

  // tts: reply audio for playout, speaking `text`, without waiting. kTaken: `audio` was moved
  // into the output; kFull: nothing was taken (WhenReplyRoom says when to offer it again);
  // kRefused: this turn's reply goes out no more (interrupted, the session is over).
  virtual ReplyOffer TryReplyAudio(v1::AudioChunk& audio, const std::string& text) = 0;
  // Calls `on_room` once, when the output has room for `bytes` or takes no more of this turn (at
  // once if so now), on a thread that holds no lock of the session.
  virtual void WhenReplyRoom(size_t bytes, std::function<void()> on_room) = 0;

  // The blocking form, for a stage that holds a thread: waits for room (woken, never polling);
  // false when refused or `cancel` fired (the audio was not taken).
  bool OnReplyAudio(v1::AudioChunk audio, const std::string& text, const CancellationToken& cancel);
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_TURN_ENVIRONMENT_H_
