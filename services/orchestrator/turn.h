// Turn: one user utterance (or typed text) and the reply to it; the TurnEnvironment its stages
// see. What the stages report goes to its TurnHost (the session that owns the turn, held weakly:
// once the session is gone, reports are dropped and reply audio refused); the fields under
// "session state" are guarded by the session's mutex.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TURN_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TURN_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "services/orchestrator/heard_reply.h"
#include "services/orchestrator/listening/utterance.h"
#include "services/orchestrator/pipeline/dag_runner.h"
#include "services/orchestrator/stages/turn_environment.h"
#include "services/orchestrator/turn_host.h"

namespace voxflow::orchestrator {

class Turn final : public TurnEnvironment {
 public:
  // `utterance` is null for a typed turn; `config` is the session's, with its defaults filled in.
  Turn(std::weak_ptr<TurnHost> host, std::string session_id,
       std::shared_ptr<const v1::SessionConfig> config, int id, std::optional<std::string> text,
       std::shared_ptr<Utterance> utterance, TurnClock clock = {});

  int turn_id() const override { return id_; }
  const std::string& session_id() const override { return session_id_; }
  const v1::SessionConfig& config() const override { return *config_; }
  const std::optional<std::string>& text_input() const override { return text_; }
  const TurnClock& clock() const override { return clock_; }
  void Mark(TurnMark mark, absl::Time when) override;
  std::optional<InputItem> NextInput(const std::shared_ptr<CancellationToken>& cancel) override;
  bool WatchInput(std::function<void()> on_input) override;
  void StopWatchingInput() override;
  std::optional<InputItem> TryNextInput() override;
  void OnTranscript(const v1::Transcript& transcript) override;
  bool HeardEchoOfReply(const std::string& transcript) override;
  void OnSpeechEvent(const v1::SpeechEvent& speech) override;
  void OnReplyText(absl::string_view piece, bool is_final) override;
  ReplyOffer TryReplyAudio(v1::AudioChunk& audio, const std::string& text) override;
  void WhenReplyRoom(size_t bytes, std::function<void()> on_room) override;
  void OnLlmReport(const LlmReport& report) override;
  void CallTool(const LlmToolCall& call, absl::Duration timeout,
                const std::shared_ptr<CancellationToken>& cancel,
                LlmToolAnswerSink answer) override;
  void OnDegraded(absl::string_view stage, absl::string_view degradation,
                  const absl::Status& why) override;

  // A failure a stage worked around.
  struct Degradation {
    std::string stage;
    std::string name;
    absl::Status why;
  };

  absl::Time MarkTime(TurnMark mark) const;
  std::string transcript() const;
  // The final transcript when it was the reply's own echo (transcript() is then empty).
  std::string echo_of_reply() const;
  std::string reply() const;
  LlmReport llm_report() const;
  std::vector<Degradation> degradations() const;
  const std::shared_ptr<Utterance>& utterance() const { return utterance_; }

  // Session state.
  bool released = false;  // Its held stages may run: it owns the output.
  bool dag_done = false;
  bool completed = false;
  TurnResult result;
  bool interrupted = false;
  absl::Time start;
  absl::Time first_audio_sent = absl::InfinitePast();
  double audio_sent_ms = 0;
  HeardReply heard;

 private:
  const std::weak_ptr<TurnHost> host_;
  const std::string session_id_;
  const std::shared_ptr<const v1::SessionConfig> config_;
  const int id_;
  const std::optional<std::string> text_;
  const std::shared_ptr<Utterance> utterance_;
  const TurnClock clock_;
  mutable std::mutex mu_;
  std::map<TurnMark, absl::Time> marks_;
  std::string transcript_;  // The latest final: the utterance so far.
  std::string echo_of_reply_;
  std::string reply_;
  LlmReport llm_report_;
  std::vector<Degradation> degradations_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TURN_H_
