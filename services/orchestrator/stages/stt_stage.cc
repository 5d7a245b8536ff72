#include "services/orchestrator/stages/stt_stage.h"

#include <algorithm>
#include <atomic>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "services/common/audio_chunk.h"
#include "services/common/client_stream.h"
#include "services/common/timer_queue.h"
#include "services/orchestrator/stages/backend_call.h"
#include "voxflow/v1/stt.grpc.pb.h"

namespace voxflow::orchestrator {
namespace {

using SttStream = ClientStream<v1::RecognizeRequest, v1::RecognizeResponse>;

// One attempt: alive from Start until its call is done (it holds itself meanwhile); timers and
// callbacks that outlive it reach it through weak pointers.
class SttAttempt : public std::enable_shared_from_this<SttAttempt> {
 public:
  SttAttempt(TurnEnvironment* environment, const Backend* backend,
             std::shared_ptr<SttStage::Input> input, std::shared_ptr<StageContext> context,
             AsyncStage::Done done, absl::Duration stall_timeout)
      : environment_(environment),
        backend_(backend),
        input_(std::move(input)),
        context_(std::move(context)),
        done_(std::move(done)),
        stall_timeout_(stall_timeout) {}

  void Start();

 private:
  // Writes what the utterance holds to the backend stream (the utterance's watcher).
  void Pump();
  void WriteLocked(const InputItem& item);  // Under input_->mu.
  void OnResponse(v1::RecognizeResponse& response);
  void OnCallDone(const grpc::Status& status);
  void CheckConnected();
  void CheckStall();
  void Abort();                         // Cancels the call (never under our locks).
  std::shared_ptr<SttStream> Stream();  // Null once the call is done.
  StageResult Result(const grpc::Status& status);

  TurnEnvironment* const environment_;
  const Backend* const backend_;
  const std::shared_ptr<SttStage::Input> input_;
  std::shared_ptr<StageContext> context_;
  AsyncStage::Done done_;
  const absl::Duration stall_timeout_;
  std::shared_ptr<SttAttempt> self_;
  // Written under input_->mu and mu_ (released when the call is done), read under either.
  std::shared_ptr<SttStream> stream_;
  std::atomic<int64_t> last_response_ns_{absl::ToUnixNanos(absl::Now())};

  std::mutex mu_;
  std::vector<std::string> finals_;  // This attempt's; a retry hears the audio again.
  bool end_sent_ = false;
  bool read_ended_ = false;
  bool call_done_ = false;
  bool got_response_ = false;
  bool stalled_ = false;
  bool unreachable_ = false;
  absl::Time stall_since_;
  absl::Duration patience_;
  int64_t connect_timer_ = 0;
  int64_t stall_timer_ = 0;
  int64_t cancel_callback_ = -1;
};

void SttAttempt::Start() {
  self_ = shared_from_this();
  // Ours for the whole of Start: the call may be over (and context_ released) before it returns.
  const std::shared_ptr<StageContext> context = context_;
  std::weak_ptr<SttAttempt> weak = weak_from_this();
  SttStream::Options options;
  // Responses are handled on gRPC's threads as they come: nothing here blocks.
  options.on_response = [this](v1::RecognizeResponse& response) { OnResponse(response); };
  options.on_read_end = [this] {
    environment_->Mark(TurnMark::kFinalTranscript, absl::Now());  // If no final came after the end.
    {
      std::lock_guard<std::mutex> lock(mu_);
      read_ended_ = true;
    }
    if (std::shared_ptr<SttStream> stream = Stream()) stream->WritesDone();  // The call can end.
  };
  options.on_done = [this](const grpc::Status& status) { OnCallDone(status); };
  const auto stream = std::make_shared<SttStream>(std::move(options));
  {
    std::lock_guard<std::mutex> input(input_->mu);
    std::lock_guard<std::mutex> lock(mu_);
    stream_ = stream;
  }
  grpc::ClientContext* call = stream->context();
  call->set_deadline(absl::ToChronoTime(CallDeadline(*context)));
  // A backend still connecting (or reconnecting) holds the call until it is ready; the connect
  // check below gives up on it after the backend's connect timeout.
  call->set_wait_for_ready(true);
  TagWithConversation(*call);
  auto stub = v1::SpeechToText::NewStub(backend_->channel());
  stub->async()->StreamingRecognize(call, stream.get());
  stream->Start();
  {
    // Cancelled already: the callback aborts the call at once. A call over before the callback
    // is recorded has nobody else to remove it.
    const int64_t id = context->cancellation()->OnCancel([weak](const absl::Status&) {
      if (auto self = weak.lock()) self->Abort();
    });
    bool over;
    {
      std::lock_guard<std::mutex> lock(mu_);
      over = call_done_;
      if (!over) cancel_callback_ = id;
    }
    if (over) context->cancellation()->RemoveCallback(id);
  }
  backend_->channel()->GetState(/*try_to_connect=*/true);
  {
    std::lock_guard<std::mutex> lock(mu_);
    connect_timer_ =
        TimerQueue::Default().Schedule(absl::Now() + backend_->connect_timeout(), [weak] {
          if (auto self = weak.lock()) self->CheckConnected();
        });
  }

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
  stream->WriteNoWait(std::move(request));

  // Replay what earlier attempts sent, then the rest of the utterance as it is heard.
  bool ended;
  {
    std::lock_guard<std::mutex> lock(input_->mu);
    for (const InputItem& item : input_->consumed) WriteLocked(item);
    ended = input_->saw_end;
  }
  if (!ended)
    environment_->WatchInput([weak] {
      if (auto self = weak.lock()) self->Pump();
    });
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
  if (stream_ == nullptr) return;  // The call is over.
  v1::RecognizeRequest next;
  if (!item.end_of_utterance) {
    *next.mutable_audio() = item.audio;
    stream_->WriteNoWait(std::move(next));
    return;
  }
  next.set_end_of_input(true);
  stream_->WriteNoWait(std::move(next));
  stream_->WritesDone();
  // A backend that takes the audio but never answers (a stalled process) is given up on well
  // before the stage timeout; the retry replays the utterance, to another replica if there is
  // one. Patience grows with the utterance (a recognizer slower than real time still has a
  // backlog at its end) and restarts whenever the backend answers something.
  size_t audio_bytes = 0;
  for (const InputItem& sent : input_->consumed) audio_bytes += sent.audio.data().size();
  const absl::Duration utterance = absl::Milliseconds(
      DurationMs(audio_bytes, environment_->config().input_format()).value_or(0));
  std::weak_ptr<SttAttempt> weak = weak_from_this();
  std::lock_guard<std::mutex> lock(mu_);
  end_sent_ = true;
  patience_ = std::max(stall_timeout_, 2 * utterance);
  stall_since_ = absl::Now();
  stall_timer_ = TimerQueue::Default().Schedule(stall_since_ + patience_, [weak] {
    if (auto self = weak.lock()) self->CheckStall();
  });
}

void SttAttempt::OnResponse(v1::RecognizeResponse& response) {
  last_response_ns_ = absl::ToUnixNanos(absl::Now());
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
  if (heard.is_final() && after_end) environment_->Mark(TurnMark::kFinalTranscript, absl::Now());
  environment_->OnTranscript(heard);
}

// Our locks are never held while the call is cancelled: gRPC may run its reactions (and so
// OnCallDone) before TryCancel returns.
void SttAttempt::CheckConnected() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (call_done_ || got_response_) return;
    if (backend_->channel()->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY) return;
    unreachable_ = true;
  }
  Abort();
}

void SttAttempt::CheckStall() {
  std::weak_ptr<SttAttempt> weak = weak_from_this();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (call_done_) return;
    const absl::Time answered = absl::FromUnixNanos(last_response_ns_);
    if (answered > stall_since_) {
      stall_since_ = answered;
      stall_timer_ = TimerQueue::Default().Schedule(stall_since_ + patience_, [weak] {
        if (auto self = weak.lock()) self->CheckStall();
      });
      return;
    }
    stalled_ = !context_->cancelled();
  }
  Abort();
}

std::shared_ptr<SttStream> SttAttempt::Stream() {
  std::lock_guard<std::mutex> lock(mu_);
  return stream_;
}

void SttAttempt::Abort() {
  if (std::shared_ptr<SttStream> stream = Stream()) stream->Abort();
}

void SttAttempt::OnCallDone(const grpc::Status& status) {
  int64_t timers[2];
  int64_t cancel_callback;
  {
    std::lock_guard<std::mutex> lock(mu_);
    call_done_ = true;
    timers[0] = connect_timer_;
    timers[1] = stall_timer_;
    cancel_callback = cancel_callback_;
  }
  environment_->StopWatchingInput();
  for (int64_t timer : timers) TimerQueue::Default().Cancel(timer);
  context_->cancellation()->RemoveCallback(cancel_callback);
  StageResult result = Result(status);
  std::shared_ptr<SttStream> stream;
  {
    std::lock_guard<std::mutex> input(input_->mu);
    std::lock_guard<std::mutex> lock(mu_);
    stream = std::move(stream_);
  }
  // The call's objects go before the result does (we are in its last reaction, which allows
  // it): a caller that tears gRPC down after the result finds nothing of ours left.
  stream.reset();
  // The attempt is over: nothing of it uses the context after this, and it may go now.
  context_.reset();
  AsyncStage::Done done = std::move(done_);
  std::shared_ptr<SttAttempt> keep = std::move(self_);
  done(std::move(result));
}

StageResult SttAttempt::Result(const grpc::Status& status) {
  std::lock_guard<std::mutex> input(input_->mu);
  std::lock_guard<std::mutex> lock(mu_);
  if (context_->cancelled())
    return StageResult::Cancel(context_->cancellation()->reason().message());
  if (stalled_) {
    return StageResult::Retry(absl::UnavailableError(absl::StrCat(
        backend_->name(), " backend ", backend_->target(), ": no answer for ",
        absl::ToInt64Milliseconds(stall_timeout_), " ms or more after the end of the utterance")));
  }
  if (unreachable_) return StageResult::Retry(NotReachable(*backend_));
  if (!status.ok()) return Unfinished(FromGrpc(status, *backend_));
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
