// FakeTurnEnvironment: a TurnEnvironment for driving one stage in a test (Pipecat's run_test
// shape): the utterance it reads, the time it reads (a test's, when set), and everything it
// reports, recorded.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_FAKE_TURN_ENVIRONMENT_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_FAKE_TURN_ENVIRONMENT_H_

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/orchestrator/listening/utterance.h"
#include "services/orchestrator/stages/turn_environment.h"

namespace voxflow::orchestrator {

class FakeTurnEnvironment final : public TurnEnvironment {
 public:
  FakeTurnEnvironment() { config_.set_language("en-US"); }

  // Setup.
  v1::SessionConfig& mutable_config() { return config_; }
  void set_text_input(std::string text) { text_ = std::move(text); }
  Utterance& utterance() { return utterance_; }
  // The time the stage reads from now on (the real clock until set).
  void set_now(absl::Time now) {
    clock_.now = [now] { return now; };
  }
  // Output refused from this chunk on (a session whose reply was interrupted).
  void refuse_audio_after(int chunks) { refuse_after_ = chunks; }
  // The final transcript taken for the reply's echo.
  void set_echo_of_reply(std::string transcript) { echo_ = std::move(transcript); }

  int turn_id() const override { return 1; }
  const std::string& session_id() const override { return session_id_; }
  const v1::SessionConfig& config() const override { return config_; }
  const std::optional<std::string>& text_input() const override { return text_; }
  const TurnClock& clock() const override { return clock_; }
  void Mark(TurnMark mark, absl::Time when) override {
    std::lock_guard<std::mutex> lock(mu_);
    marks_.emplace(mark, when);
  }
  std::optional<InputItem> NextInput(const std::shared_ptr<CancellationToken>& cancel) override {
    return utterance_.Next(cancel);
  }
  bool WatchInput(std::function<void()> on_input) override {
    utterance_.Watch(std::move(on_input));
    return true;
  }
  void StopWatchingInput() override { utterance_.Unwatch(); }
  std::optional<InputItem> TryNextInput() override { return utterance_.TryNext(); }
  void OnTranscript(const v1::Transcript& transcript) override {
    std::lock_guard<std::mutex> lock(mu_);
    transcripts_.push_back(transcript);
  }
  bool HeardEchoOfReply(const std::string& transcript) override { return transcript == echo_; }
  void OnSpeechEvent(const v1::SpeechEvent& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    speech_events_.push_back(event);
  }
  void OnReplyText(absl::string_view piece, bool is_final) override {
    std::lock_guard<std::mutex> lock(mu_);
    reply_text_.append(piece.data(), piece.size());
    reply_final_ |= is_final;
  }
  ReplyOffer TryReplyAudio(v1::AudioChunk& audio, const std::string& text) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (refuse_after_ >= 0 && static_cast<int>(audio_texts_.size()) >= refuse_after_) {
      return ReplyOffer::kRefused;
    }
    if (full_ > 0) {
      --full_;
      return ReplyOffer::kFull;
    }
    reply_audio_ += audio.data();
    audio_texts_.push_back(text);
    return ReplyOffer::kTaken;
  }
  void WhenReplyRoom(size_t, std::function<void()> on_room) override {
    ++room_waits_;
    on_room();  // A test's output always has room again at once.
  }
  // The next `offers` offers find the output full.
  void set_full_for(int offers) {
    std::lock_guard<std::mutex> lock(mu_);
    full_ = offers;
  }
  int room_waits() const { return room_waits_; }

  void OnLlmReport(const LlmReport& report) override {
    std::lock_guard<std::mutex> lock(mu_);
    llm_reports_.push_back(report);
  }
  void CallTool(const LlmToolCall& call, absl::Duration,
                const std::shared_ptr<CancellationToken>& cancel,
                LlmToolAnswerSink answer) override {
    LlmToolAnswer reply;
    {
      std::lock_guard<std::mutex> lock(mu_);
      tool_calls_.push_back(call);
      reply = cancel->cancelled() ? LlmToolAnswer{"", "cancelled"} : tool_answer_;
    }
    answer(std::move(reply));
  }
  void OnDegraded(absl::string_view stage, absl::string_view degradation,
                  const absl::Status& why) override {
    std::lock_guard<std::mutex> lock(mu_);
    degradations_.push_back(absl::StrCat(stage, ":", degradation, ":", why.message()));
  }
  void set_tool_answer(LlmToolAnswer answer) { tool_answer_ = std::move(answer); }

  // What the stage reported.
  std::vector<LlmReport> llm_reports() const {
    std::lock_guard<std::mutex> lock(mu_);
    return llm_reports_;
  }
  std::vector<LlmToolCall> tool_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return tool_calls_;
  }
  std::vector<std::string> degradations() const {
    std::lock_guard<std::mutex> lock(mu_);
    return degradations_;
  }
  bool marked(TurnMark mark) const {
    std::lock_guard<std::mutex> lock(mu_);
    return marks_.count(mark) > 0;
  }
  // When `mark` was recorded (InfinitePast: never).
  absl::Time mark_time(TurnMark mark) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = marks_.find(mark);
    return it == marks_.end() ? absl::InfinitePast() : it->second;
  }
  std::vector<v1::Transcript> transcripts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return transcripts_;
  }
  std::vector<v1::SpeechEvent> speech_events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return speech_events_;
  }
  std::string reply_text() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reply_text_;
  }
  bool reply_final() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reply_final_;
  }
  std::string reply_audio() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reply_audio_;
  }
  std::vector<std::string> audio_texts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return audio_texts_;
  }

 private:
  const std::string session_id_ = "s-test";
  v1::SessionConfig config_;
  std::optional<std::string> text_;
  TurnClock clock_;
  Utterance utterance_{1};
  int refuse_after_ = -1;
  int full_ = 0;
  std::atomic<int> room_waits_{0};
  mutable std::mutex mu_;
  std::map<TurnMark, absl::Time> marks_;
  std::vector<v1::Transcript> transcripts_;
  std::string echo_ = "\x01";
  std::vector<v1::SpeechEvent> speech_events_;
  std::string reply_text_;
  bool reply_final_ = false;
  std::string reply_audio_;
  std::vector<std::string> audio_texts_;
  std::vector<LlmReport> llm_reports_;
  std::vector<LlmToolCall> tool_calls_;
  LlmToolAnswer tool_answer_{"{}", ""};
  std::vector<std::string> degradations_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_FAKE_TURN_ENVIRONMENT_H_
