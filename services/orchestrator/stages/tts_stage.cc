#include "services/orchestrator/stages/tts_stage.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/audio_chunk.h"
#include "services/common/client_stream.h"
#include "services/orchestrator/llm_client.h"
#include "services/orchestrator/stages/backend_attempt.h"
#include "services/orchestrator/stages/backend_call.h"
#include "voxflow/v1/tts.grpc.pb.h"

namespace voxflow::orchestrator {
namespace {

using TtsStream = ClientStream<v1::SynthesizeRequest, v1::SynthesizeResponse>;

// One attempt: alive from Start until it has reported (BackendAttempt holds it); timers and
// callbacks that outlive it reach it through weak pointers. Lock order: mu_, then progress.
class TtsAttempt final : public BackendAttempt<v1::SynthesizeRequest, v1::SynthesizeResponse> {
 public:
  TtsAttempt(TurnEnvironment* environment, const Backend* backend,
             std::shared_ptr<TtsStage::Progress> progress, std::shared_ptr<StageContext> context,
             AsyncStage::Done done, int chunk_ms)
      : BackendAttempt(environment, backend, std::move(context), std::move(done)),
        progress_(std::move(progress)),
        chunk_ms_(chunk_ms) {}

  void Start();

 private:
  struct HeldAudio {
    v1::AudioChunk audio;
    std::string text;
  };

  // Sends the sentences there are, opening the call at the first; ends the input at the end.
  void Pump();
  void OpenCallLocked();
  bool TakeResponse(v1::SynthesizeResponse& response);
  // The output has room again for the held audio.
  void OnRoom();
  // Offers audio to the session's output. Refused: the call is aborted (nobody takes the rest).
  // Full: the audio is held and offered again once there is room.
  ReplyOffer Offer(HeldAudio held);
  StageResult Result(const grpc::Status& status) override;

  const std::shared_ptr<TtsStage::Progress> progress_;
  const int chunk_ms_;
  TextStream* source_ = nullptr;  // The llm's sentences; null: the reply split at Start.

  // Under mu_.
  size_t next_ = 0;  // The next of progress_->sentences to send.
  bool end_sent_ = false;
  bool write_failed_ = false;
  bool output_refused_ = false;
  std::optional<HeldAudio> held_;
};

void TtsAttempt::Start() {
  if (!Begin()) return;
  const std::string producer =
      context_->spec().streams_from().empty() ? "" : context_->spec().streams_from(0);
  source_ = context_->StreamFrom(producer);
  {
    std::lock_guard<std::mutex> lock(progress_->mu);
    next_ = progress_->spoken;  // A retry re-sends the sentences whose audio did not complete.
    if (source_ == nullptr && !progress_->input_done) {
      // No stream: the whole reply of the first dependency, split into sentences.
      const std::string from =
          context_->spec().depends_on().empty() ? "" : context_->spec().depends_on(0);
      SentenceSplitter splitter;
      for (std::string& sentence : splitter.Append(context_->Input(from, "reply"))) {
        progress_->sentences.push_back(std::move(sentence));
      }
      if (std::string rest = splitter.Flush(); !rest.empty()) {
        progress_->sentences.push_back(std::move(rest));
      }
      progress_->input_done = true;
    }
  }
  Pump();
}

void TtsAttempt::Pump() {
  bool wait_for_more = false;
  std::optional<StageResult> nothing_to_say;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reported_ || call_done_ || end_sent_ || context_->cancelled()) return;
    bool at_end = false;
    while (true) {
      std::optional<std::string> sentence;
      {
        std::lock_guard<std::mutex> progress(progress_->mu);
        if (next_ < progress_->sentences.size()) {
          sentence = progress_->sentences[next_++];
        } else if (progress_->input_done) {
          at_end = true;
        } else if (std::optional<std::string> item = source_->TryGet(); item.has_value()) {
          progress_->sentences.push_back(*item);
          ++next_;
          sentence = std::move(item);
        } else if (source_->closed() && source_->size() == 0) {
          progress_->input_done = true;
          at_end = true;
        } else {
          wait_for_more = true;
        }
      }
      if (!sentence.has_value()) break;
      if (!call_open_) OpenCallLocked();
      if (stream_ == nullptr) break;  // Cancelled, or over: reported.
      v1::SynthesizeRequest piece;
      piece.mutable_text()->set_text(*sentence + " ");
      piece.mutable_text()->set_piece_id(absl::StrCat(next_ - 1));
      v1::SynthesizeRequest flush;
      flush.set_flush(true);  // Speak it now: it is a whole sentence.
      if (!stream_->WriteNoWait(std::move(piece)) || !stream_->WriteNoWait(std::move(flush))) {
        write_failed_ = true;
        break;
      }
    }
    if (at_end && !call_open_) {
      std::lock_guard<std::mutex> progress(progress_->mu);
      nothing_to_say =
          progress_->spoken > 0
              ? StageResult::Ok(
                    {{"sentences", absl::StrCat(progress_->spoken)},
                     {"audio_ms", absl::StrCat(static_cast<int64_t>(progress_->audio_ms))}})
              : StageResult::Skip("no reply text to speak");
    } else if (at_end && !write_failed_) {
      end_sent_ = true;
      v1::SynthesizeRequest end;
      end.set_end_of_input(true);
      stream_->WriteNoWait(std::move(end));
      stream_->WritesDone();
    } else if (write_failed_) {
      stream_->WritesDone();
    }
  }
  if (nothing_to_say.has_value()) {
    Report(*std::move(nothing_to_say));
    return;
  }
  if (wait_for_more) {
    std::weak_ptr<TtsAttempt> weak = WeakSelf<TtsAttempt>();
    source_->NotifyWhenReadable([weak] {
      if (auto self = weak.lock()) self->Pump();
    });
  }
}

void TtsAttempt::OpenCallLocked() {
  TtsStream::Options options;
  options.take_response = [this](v1::SynthesizeResponse& response) {
    return TakeResponse(response);
  };
  std::shared_ptr<TtsStream> call = BackendAttempt::OpenCallLocked(
      std::move(options), [this](grpc::ClientContext* context, TtsStream* stream) {
        v1::TextToSpeech::NewStub(backend_->channel())
            ->async()
            ->StreamingSynthesize(context, stream);
      });
  if (call == nullptr) return;
  environment_->Mark(TurnMark::kFirstSentence, environment_->clock().Now());
  const v1::SessionConfig& session = environment_->config();
  v1::SynthesizeRequest request;
  v1::SynthesisConfig* config = request.mutable_config();
  config->set_voice(context_->Parameter("voice", session.voice()));
  config->set_language(session.language().empty() ? "en-US" : session.language());
  *config->mutable_output_format() = session.output_format();
  config->set_chunk_duration_ms(chunk_ms_);
  call->WriteNoWait(std::move(request));
}

bool TtsAttempt::TakeResponse(v1::SynthesizeResponse& response) {
  if (response.audio().data().empty()) return true;
  environment_->Mark(TurnMark::kTtsFirstByte, environment_->clock().Now());
  {
    std::lock_guard<std::mutex> lock(mu_);
    got_response_ = true;
    if (output_refused_) return true;
    // Audio of sentence i means the sentences before it are spoken (piece ids are indexes).
    std::lock_guard<std::mutex> progress(progress_->mu);
    size_t index = 0;
    if (absl::SimpleAtoi(response.piece_id(), &index)) {
      progress_->spoken = std::max(progress_->spoken, index);
    }
    progress_->audio_ms +=
        DurationMs(response.audio().data().size(), StreamFormatOf(response.audio())).value_or(0);
  }
  std::string text = response.text();
  // Full: held, and reading pauses (HTTP/2 flow control pushes back on the service).
  return Offer(HeldAudio{std::move(*response.mutable_audio()), std::move(text)}) !=
         ReplyOffer::kFull;
}

void TtsAttempt::OnRoom() {
  std::optional<HeldAudio> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!held_.has_value() || call_done_) return;
    held = std::move(held_);
    held_.reset();
  }
  if (Offer(*std::move(held)) == ReplyOffer::kTaken) {
    if (std::shared_ptr<TtsStream> call = stream()) call->ResumeReads();
  }
}

ReplyOffer TtsAttempt::Offer(HeldAudio held) {
  const ReplyOffer offer = environment_->TryReplyAudio(held.audio, held.text);
  if (offer == ReplyOffer::kTaken) return offer;
  if (offer == ReplyOffer::kRefused) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      output_refused_ = true;
    }
    AbortCall();  // Nobody takes the rest.
    return offer;
  }
  // Full: hold it until the session's pacing has made room, then offer it again.
  const size_t bytes = held.audio.data().size();
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = std::move(held);
  }
  std::weak_ptr<TtsAttempt> weak = WeakSelf<TtsAttempt>();
  environment_->WhenReplyRoom(bytes, [weak] {
    if (auto self = weak.lock()) self->OnRoom();
  });
  return offer;
}

StageResult TtsAttempt::Result(const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  std::lock_guard<std::mutex> progress(progress_->mu);
  if (status.ok() && !output_refused_ && !write_failed_ && progress_->input_done) {
    progress_->spoken = progress_->sentences.size();
    return StageResult::Ok({{"sentences", absl::StrCat(progress_->sentences.size())},
                            {"audio_ms", absl::StrCat(static_cast<int64_t>(progress_->audio_ms))}});
  }
  if (context_->cancelled() || output_refused_) {
    return StageResult::Cancel(context_->cancellation()->reason().message());
  }
  if (std::optional<StageResult> failed = CallFailureLocked(status)) return *std::move(failed);
  return StageResult::Fail(absl::InternalError("tts stream ended early"));
}

}  // namespace

void TtsStage::Start(std::shared_ptr<StageContext> context, Done done) {
  int chunk_ms = 20;
  if (!absl::SimpleAtoi(context->Parameter("chunk_duration_ms", "20"), &chunk_ms) ||
      chunk_ms <= 0) {
    done(StageResult::Fail(
        absl::InvalidArgumentError("tts parameter chunk_duration_ms must be a positive integer")));
    return;
  }
  std::make_shared<TtsAttempt>(environment_, backend_, progress_, std::move(context),
                               std::move(done), chunk_ms)
      ->Start();
}

}  // namespace voxflow::orchestrator
