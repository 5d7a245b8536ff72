#include "services/orchestrator/turn.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/orchestrator/voice_metrics.h"

namespace voxflow::orchestrator {

Turn::Turn(std::weak_ptr<TurnHost> host, std::string session_id,
           std::shared_ptr<const v1::SessionConfig> config, int id, std::optional<std::string> text,
           std::shared_ptr<Utterance> utterance, TurnClock clock)
    : host_(std::move(host)),
      session_id_(std::move(session_id)),
      config_(std::move(config)),
      id_(id),
      text_(std::move(text)),
      utterance_(std::move(utterance)),
      clock_(std::move(clock)) {}

void Turn::Mark(TurnMark mark, absl::Time when) {
  std::lock_guard<std::mutex> lock(mu_);
  marks_.emplace(mark, when);
}

absl::Time Turn::MarkTime(TurnMark mark) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = marks_.find(mark);
  return it == marks_.end() ? absl::InfinitePast() : it->second;
}

namespace {

// Input leaves the session here, for the stt stream.
std::optional<InputItem> Counted(std::optional<InputItem> item) {
  if (item.has_value() && !item->end_of_utterance) {
    VoiceMetrics::CountHandOvers(HandOverDirection::kIn, item->hand_overs);
  }
  return item;
}

}  // namespace

std::optional<InputItem> Turn::NextInput(const std::shared_ptr<CancellationToken>& cancel) {
  if (utterance_ == nullptr) return std::nullopt;
  return Counted(utterance_->Next(cancel));
}

bool Turn::WatchInput(std::function<void()> on_input) {
  if (utterance_ == nullptr) return false;
  utterance_->Watch(std::move(on_input));
  return true;
}

void Turn::StopWatchingInput() {
  if (utterance_ != nullptr) utterance_->Unwatch();
}

std::optional<InputItem> Turn::TryNextInput() {
  if (utterance_ == nullptr) return std::nullopt;
  return Counted(utterance_->TryNext());
}

void Turn::OnTranscript(const v1::Transcript& transcript) {
  // The whole utterance so far (the stt stage joins its finals).
  const std::string& text = transcript.text();
  if (transcript.is_final()) {
    std::lock_guard<std::mutex> lock(mu_);
    transcript_ = text;
  }
  std::shared_ptr<TurnHost> host = host_.lock();
  if (host == nullptr) return;
  host->OnHeard(id_, text);
  if (!transcript.is_final() && !config().interim_results()) return;
  if (transcript.is_final() && text.empty()) return;
  v1::ConverseEvent event;
  v1::TranscriptEvent* out = event.mutable_transcript();
  out->set_text(text);
  out->set_is_final(transcript.is_final());
  out->set_confidence(transcript.confidence());
  out->set_turn_id(id_);
  host->Send(std::move(event));
}

bool Turn::HeardEchoOfReply(const std::string& transcript) {
  std::shared_ptr<TurnHost> host = host_.lock();
  if (host == nullptr || !host->IsEchoOfReply(id_, transcript)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  transcript_.clear();  // Nothing the caller said: the turn is discarded.
  echo_of_reply_ = transcript;
  return true;
}

void Turn::OnSpeechEvent(const v1::SpeechEvent& speech) {
  std::shared_ptr<TurnHost> host = host_.lock();
  if (host == nullptr) return;
  const bool ended = speech.type() == v1::SpeechEvent::END_OF_UTTERANCE;
  host->SendTelemetry(
      ended ? "stt.end_of_utterance" : "stt.speech_started",
      {{"turn_id", absl::StrCat(id_)}, {"offset_ms", absl::StrCat(speech.offset_ms())}});
  if (ended) host->OnRecognizerEndpoint(id_);
}

void Turn::OnReplyText(absl::string_view piece, bool is_final) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    reply_.append(piece.data(), piece.size());
  }
  v1::ConverseEvent event;
  event.mutable_reply_text()->set_text(std::string(piece));
  event.mutable_reply_text()->set_is_final(is_final);
  event.mutable_reply_text()->set_turn_id(id_);
  if (std::shared_ptr<TurnHost> host = host_.lock()) host->Send(std::move(event));
}

ReplyOffer Turn::TryReplyAudio(v1::AudioChunk& audio, const std::string& text) {
  std::shared_ptr<TurnHost> host = host_.lock();
  return host == nullptr ? ReplyOffer::kRefused : host->OfferReplyAudio(id_, audio, text);
}

void Turn::WhenReplyRoom(size_t bytes, std::function<void()> on_room) {
  std::shared_ptr<TurnHost> host = host_.lock();
  if (host == nullptr) {
    on_room();  // The output takes no more of this turn.
    return;
  }
  host->WhenReplyRoom(id_, bytes, std::move(on_room));
}

void Turn::OnLlmReport(const LlmReport& report) {
  std::lock_guard<std::mutex> lock(mu_);
  llm_report_.requests += report.requests;
  if (report.usage.has_value()) {
    TokenUsage& sum =
        llm_report_.usage.has_value() ? *llm_report_.usage : llm_report_.usage.emplace();
    sum.prompt_tokens += report.usage->prompt_tokens;
    sum.completion_tokens += report.usage->completion_tokens;
  }
}

void Turn::CallTool(const LlmToolCall& call, absl::Duration timeout,
                    const std::shared_ptr<CancellationToken>& cancel, LlmToolAnswerSink answer) {
  std::shared_ptr<TurnHost> host = host_.lock();
  if (host == nullptr) {
    answer(LlmToolAnswer{"", "the session is over"});
    return;
  }
  host->CallTool(id_, call, timeout, cancel, std::move(answer));
}

void Turn::OnDegraded(absl::string_view stage, absl::string_view degradation,
                      const absl::Status& why) {
  std::lock_guard<std::mutex> lock(mu_);
  degradations_.push_back({std::string(stage), std::string(degradation), why});
}

LlmReport Turn::llm_report() const {
  std::lock_guard<std::mutex> lock(mu_);
  return llm_report_;
}

std::vector<Turn::Degradation> Turn::degradations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return degradations_;
}

std::string Turn::transcript() const {
  std::lock_guard<std::mutex> lock(mu_);
  return text_.has_value() ? *text_ : transcript_;
}

std::string Turn::echo_of_reply() const {
  std::lock_guard<std::mutex> lock(mu_);
  return echo_of_reply_;
}

std::string Turn::reply() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reply_;
}

}  // namespace voxflow::orchestrator
