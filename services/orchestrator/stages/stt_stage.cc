#include "services/orchestrator/stages/stt_stage.h"

#include <algorithm>
#include <atomic>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/audio_chunk.h"
#include "services/common/client_stream.h"
#include "services/orchestrator/stages/backend_attempt.h"
#include "services/orchestrator/stages/backend_call.h"
#include "voxflow/v1/stt.grpc.pb.h"

namespace voxflow::orchestrator {
namespace {

using SttStream = ClientStream<v1::RecognizeRequest, v1::RecognizeResponse>;

// One attempt: alive from Start until it has reported (BackendAttempt holds it); timers and
// callbacks that outlive it reach it through weak pointers. Lock order: input_->mu, then mu_.
class SttAttempt final : public BackendAttempt<v1::RecognizeRequest, v1::RecognizeResponse> {
 public:
  SttAttempt(TurnEnvironment* environment, const Backend* backend,
             std::shared_ptr<SttStage::Input> input, std::shared_ptr<StageContext> context,
             AsyncStage::Done done, absl::Duration stall_timeout)
      : BackendAttempt(environment, backend, std::move(context), std::move(done)),
        input_(std::move(input)),
        stall_timeout_(stall_timeout) {}

  void Start();

 private:
  // Writes what the utterance holds to the backend stream (the utterance's watcher).
  void Pump();
  void WriteLocked(const InputItem& item);  // Under input_->mu.
  void OnResponse(v1::RecognizeResponse& response);
  void CheckStall();
  void OnCallEnded() override;
  StageResult Result(const grpc::Status& status) override;
  StageResult HeardResult(const grpc::Status& status);

  const std::shared_ptr<SttStage::Input> input_;
  const absl::Duration stall_timeout_;
  // The open call's stream, for writing input: under input_->mu (null once the call is done).
  std::shared_ptr<SttStream> writer_;
  std::atomic<int64_t> last_response_ns_{absl::ToUnixNanos(environment_->clock().Now())};

  // Under mu_.
  std::vector<std::string> finals_;  // This attempt's; a retry hears the audio again.
  bool end_sent_ = false;
  bool read_ended_ = false;
  bool stalled_ = false;
  absl::Time stall_since_;
  absl::Duration patience_;
  int64_t stall_timer_ = 0;
};

void SttAttempt::Start() {
  if (!Begin()) return;
  SttStream::Options options;
  // Responses are handled on gRPC's threads as they come: nothing here blocks.
  options.on_response = [this](v1::RecognizeResponse& response) { OnResponse(response); };
  options.on_read_end = [this] {
    // If no final came after the end.
    environment_->Mark(TurnMark::kFinalTranscript, environment_->clock().Now());
    {
      std::lock_guard<std::mutex> lock(mu_);
      read_ended_ = true;
    }
    if (std::shared_ptr<SttStream> call = stream()) call->WritesDone();  // The call can end.
  };
  std::shared_ptr<SttStream> call;
  {
    std::lock_guard<std::mutex> input(input_->mu);
    std::lock_guard<std::mutex> lock(mu_);
    call = OpenCallLocked(std::move(options), [this](grpc::ClientContext* context,
                                                     SttStream* stream) {
      v1::SpeechToText::NewStub(backend_->channel())->async()->StreamingRecognize(context, stream);
    });
    writer_ = call;
  }
  if (call == nullptr) return;  // Cancelled meanwhile: reported.

  // The orchestrator decides where the utterance ends (its voice activity detector); the
  // recognizer's own endpoint, at the same silence, is a second signal and may split the
  // utterance into several finals, which are joined.
  const v1::SessionConfig& session = environment_->config();
  v1::RecognizeRequest request;
  v1::RecognitionConfig* config = request.mutable_config();
  config->set_language(session.language().empty() ? "en-US" : session.language());
  *config->mutable_audio_format() = session.input_format();
  config->set_interim_results(session.interim_results() || session.barge_in().min_words() > 0);
  config->mutable_endpointing()->set_silence_ms(session.endpointing().silence_ms());
  call->WriteNoWait(std::move(request));

  // Replay what earlier attempts sent, then the rest of the utterance as it is heard.
  bool ended;
  {
    std::lock_guard<std::mutex> lock(input_->mu);
    for (const InputItem& item : input_->consumed) WriteLocked(item);
    ended = input_->saw_end;
  }
  if (!ended) {
    std::weak_ptr<SttAttempt> weak = WeakSelf<SttAttempt>();
    environment_->WatchInput([weak] {
      if (auto self = weak.lock()) self->Pump();
    });
  }
}

void SttAttempt::Pump() {
  std::lock_guard<std::mutex> lock(input_->mu);
  {
    std::lock_guard<std::mutex> state(mu_);
    if (call_done_ || read_ended_) return;
  }
  while (!input_->saw_end) {
    std::optional<InputItem> item = environment_->TryNextInput();
    if (!item.has_value()) break;
    input_->saw_end = item->end_of_utterance;
    input_->consumed.push_back(*std::move(item));
    WriteLocked(input_->consumed.back());
  }
}

void SttAttempt::WriteLocked(const InputItem& item) {
  if (writer_ == nullptr) return;  // The call is over.
  v1::RecognizeRequest next;
  if (!item.end_of_utterance) {
    *next.mutable_audio() = item.audio;
    writer_->WriteNoWait(std::move(next));
    return;
  }
  next.set_end_of_input(true);
  writer_->WriteNoWait(std::move(next));
  writer_->WritesDone();
  // A backend that takes the audio but never answers (a stalled process) is given up on well
  // before the stage timeout; the retry replays the utterance, to another replica if there is
  // one. Patience grows with the utterance (a recognizer slower than real time still has a
  // backlog at its end) and restarts whenever the backend answers something.
  size_t audio_bytes = 0;
  for (const InputItem& sent : input_->consumed) audio_bytes += sent.audio.data().size();
  const absl::Duration utterance = absl::Milliseconds(
      DurationMs(audio_bytes, environment_->config().input_format()).value_or(0));
  std::weak_ptr<SttAttempt> weak = WeakSelf<SttAttempt>();
  std::lock_guard<std::mutex> lock(mu_);
  end_sent_ = true;
  patience_ = std::max(stall_timeout_, 2 * utterance);
  stall_since_ = environment_->clock().Now();
  stall_timer_ = environment_->clock().After(patience_, [weak] {
    if (auto self = weak.lock()) self->CheckStall();
  });
}

void SttAttempt::OnResponse(v1::RecognizeResponse& response) {
  last_response_ns_ = absl::ToUnixNanos(environment_->clock().Now());
  if (response.has_speech_event()) {
    environment_->OnSpeechEvent(response.speech_event());
    return;
  }
  // The session sees the utterance so far: this attempt's finals (a recognizer endpoint may
  // split the utterance), then the current hypothesis. A retry starts them afresh.
  v1::Transcript heard = response.transcript();
  bool after_end;
  {
    std::lock_guard<std::mutex> lock(mu_);
    got_response_ = true;
    after_end = end_sent_;
    if (heard.is_final()) {
      if (!heard.text().empty()) finals_.push_back(heard.text());
      heard.set_text(absl::StrJoin(finals_, " "));
    } else if (!finals_.empty()) {
      heard.set_text(absl::StrCat(absl::StrJoin(finals_, " "), " ", heard.text()));
    }
  }
  if (heard.is_final() && after_end)
    environment_->Mark(TurnMark::kFinalTranscript, environment_->clock().Now());
  environment_->OnTranscript(heard);
}

void SttAttempt::CheckStall() {
  std::weak_ptr<SttAttempt> weak = WeakSelf<SttAttempt>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (call_done_) return;
    const absl::Time answered = absl::FromUnixNanos(last_response_ns_);
    if (answered > stall_since_) {
      stall_since_ = answered;
      stall_timer_ = environment_->clock().After(
          stall_since_ + patience_ - environment_->clock().Now(), [weak] {
            if (auto self = weak.lock()) self->CheckStall();
          });
      return;
    }
    stalled_ = !context_->cancelled();
  }
  AbortCall();  // Never under our locks.
}

void SttAttempt::OnCallEnded() {
  int64_t stall_timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stall_timer = stall_timer_;
  }
  environment_->StopWatchingInput();
  environment_->clock().Cancel(stall_timer);
  std::lock_guard<std::mutex> input(input_->mu);
  writer_.reset();
}

StageResult SttAttempt::Result(const grpc::Status& status) {
  StageResult result = HeardResult(status);
  // Asked without our locks: the session's is taken, and it takes the input's.
  if (result.outcome == StageOutcome::kOk && !result.outputs["transcript"].empty() &&
      environment_->HeardEchoOfReply(result.outputs["transcript"])) {
    return StageResult::Skip(
        absl::StrCat("the reply's own echo: \"", result.outputs["transcript"], "\""));
  }
  return result;
}

StageResult SttAttempt::HeardResult(const grpc::Status& status) {
  std::lock_guard<std::mutex> input(input_->mu);
  std::lock_guard<std::mutex> lock(mu_);
  if (context_->cancelled())
    return StageResult::Cancel(context_->cancellation()->reason().message());
  if (stalled_) {
    return StageResult::Retry(absl::UnavailableError(absl::StrCat(
        backend_->name(), " backend ", backend_->target(), ": no answer for ",
        absl::ToInt64Milliseconds(stall_timeout_), " ms or more after the end of the utterance")));
  }
  if (std::optional<StageResult> failed = CallFailureLocked(status)) return *std::move(failed);
  if (!input_->saw_end) {
    return Unfinished(absl::UnavailableError("stt stream ended before the utterance"));
  }
  bool any_audio = false;
  for (const InputItem& item : input_->consumed) any_audio |= !item.end_of_utterance;
  if (!any_audio) return StageResult::Skip("no audio");
  return StageResult::Ok({{"transcript", absl::StrJoin(finals_, " ")}});
}

}  // namespace

void SttStage::Start(std::shared_ptr<StageContext> context, Done done) {
  if (environment_->text_input().has_value()) {
    done(StageResult::Skip("typed turn: no audio"));
    return;
  }
  int stall_ms = 3000;
  if (!absl::SimpleAtoi(context->Parameter("stall_timeout_ms", "3000"), &stall_ms) ||
      stall_ms <= 0) {
    done(StageResult::Fail(
        absl::InvalidArgumentError("stt parameter stall_timeout_ms must be a positive integer")));
    return;
  }
  std::make_shared<SttAttempt>(environment_, backend_, input_, std::move(context), std::move(done),
                               absl::Milliseconds(stall_ms))
      ->Start();
}

}  // namespace voxflow::orchestrator
