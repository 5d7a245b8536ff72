#include "services/orchestrator/stages/speech_stages.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "services/common/audio_chunk.h"
#include "services/common/client_stream.h"
#include "services/common/logging.h"
#include "services/common/stream_reactor.h"
#include "services/orchestrator/llm_client.h"
#include "voxflow/v1/stt.grpc.pb.h"
#include "voxflow/v1/tts.grpc.pb.h"

namespace voxflow::orchestrator {
namespace {

absl::Status FromGrpc(const grpc::Status& status, const Backend& backend) {
  return absl::Status(
      static_cast<absl::StatusCode>(status.error_code()),
      absl::StrCat(backend.name(), " backend ", backend.target(), ": ", status.error_message()));
}

// Names the session and turn this stage thread works for (its LogContext) to the backend, whose
// log lines then carry them too.
void TagWithConversation(grpc::ClientContext& call) {
  const LogContext& log = CurrentLogContext();
  if (log.session_id.empty()) return;
  call.AddMetadata(kSessionIdMetadata, log.session_id);
  call.AddMetadata(kTurnIdMetadata, absl::StrCat(log.turn_id));
}

// The backend call's deadline: past the attempt's, so that the stage's own timeout (which
// cancels the call) is what ends a slow attempt, reported as the stage timing out, not as a
// backend error racing it.
absl::Time CallDeadline(const StageContext& context) {
  return context.deadline() + absl::Seconds(1);
}

// Ends an attempt that did not finish: RETRY for transient backend errors, FAIL otherwise.
StageResult Unfinished(const absl::Status& status) {
  return IsRetryable(status.code()) ? StageResult::Retry(status) : StageResult::Fail(status);
}

}  // namespace

using SttStream = ClientStream<v1::RecognizeRequest, v1::RecognizeResponse>;
using TtsStream = ClientStream<v1::SynthesizeRequest, v1::SynthesizeResponse>;

bool IsRetryable(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kResourceExhausted ||
         code == absl::StatusCode::kAborted;
}

StageResult SttStage::Run(StageContext& context) {
  if (environment_->text_input().has_value()) return StageResult::Skip("typed turn: no audio");
  if (absl::Status ready = backend_->WaitUntilReady(*context.cancellation()); !ready.ok()) {
    return Unfinished(ready);
  }
  const v1::SessionConfig& session = environment_->config();
  int stall_ms = 3000;
  if (!absl::SimpleAtoi(context.Parameter("stall_timeout_ms", "3000"), &stall_ms) ||
      stall_ms <= 0) {
    return StageResult::Fail(
        absl::InvalidArgumentError("stt parameter stall_timeout_ms must be a positive integer"));
  }
  const absl::Duration stall_timeout = absl::Milliseconds(stall_ms);

  // Cancelled when the stream ends early (or with the attempt): wakes the writer.
  auto stream_over = CancellationToken::CreateChild(context.cancellation());
  std::mutex mu;
  std::vector<std::string> finals;  // This attempt's; a retry hears the audio again.
  bool end_sent = false;
  SttStream::Options options;
  // Responses are handled on gRPC's threads as they come: nothing here blocks.
  // When the backend last answered anything: a backend still answering is slow, not stalled.
  std::atomic<int64_t> last_response_ns{absl::ToUnixNanos(absl::Now())};
  options.on_response = [&](v1::RecognizeResponse& response) {
    last_response_ns = absl::ToUnixNanos(absl::Now());
    if (response.has_speech_event()) {
      environment_->OnSpeechEvent(response.speech_event());
      return;
    }
    // The session sees the utterance so far: this attempt's finals (a recognizer endpoint may
    // split the utterance), then the current hypothesis. A retry starts them afresh.
    v1::Transcript heard = response.transcript();
    {
      std::lock_guard<std::mutex> lock(mu);
      if (heard.is_final()) {
        if (!heard.text().empty()) finals.push_back(heard.text());
        if (end_sent) environment_->Mark(TurnMark::kFinalTranscript, absl::Now());
        heard.set_text(absl::StrJoin(finals, " "));
      } else if (!finals.empty()) {
        heard.set_text(absl::StrCat(absl::StrJoin(finals, " "), " ", heard.text()));
      }
    }
    environment_->OnTranscript(heard);
  };
  options.on_read_end = [&] {
    environment_->Mark(TurnMark::kFinalTranscript, absl::Now());  // If no final came after the end.
    stream_over->Cancel(absl::OkStatus());
  };
  SttStream stream(std::move(options));
  stream.context()->set_deadline(absl::ToChronoTime(CallDeadline(context)));
  TagWithConversation(*stream.context());
  auto stub = v1::SpeechToText::NewStub(backend_->channel());
  stub->async()->StreamingRecognize(stream.context(), &stream);
  stream.Start();
  ScopedCancelCallback cancel_call(
      context.cancellation(), [&stream](const absl::Status&) { stream.context()->TryCancel(); });

  // The orchestrator decides where the utterance ends (its voice activity detector); the
  // recognizer's own endpoint, at the same silence, is a second signal and may split the
  // utterance into several finals, which are joined.
  v1::RecognizeRequest request;
  v1::RecognitionConfig* config = request.mutable_config();
  config->set_language(session.language().empty() ? "en-US" : session.language());
  *config->mutable_audio_format() = session.input_format();
  config->set_interim_results(session.interim_results() || session.barge_in().min_words() > 0);
  config->mutable_endpointing()->set_silence_ms(session.endpointing().silence_ms());
  bool writing = stream.Write(std::move(request));

  auto write = [&](const InputItem& item) {
    v1::RecognizeRequest next;
    if (item.end_of_utterance) {
      {
        std::lock_guard<std::mutex> lock(mu);
        end_sent = true;
      }
      next.set_end_of_input(true);
    } else {
      *next.mutable_audio() = item.audio;
    }
    return stream.Write(std::move(next));
  };
  // Replay what earlier attempts sent, then the rest of the utterance as it is heard.
  for (const InputItem& item : consumed_) {
    if (!writing) break;
    writing = write(item);
  }
  while (writing && !saw_end_) {
    std::optional<InputItem> item = environment_->NextInput(stream_over);
    if (!item.has_value()) break;
    saw_end_ = item->end_of_utterance;
    consumed_.push_back(*std::move(item));
    writing = write(consumed_.back());
  }
  stream.WritesDone();
  // A backend that takes the audio but never answers (a stalled process) is given up on well
  // before the stage timeout; the retry replays the utterance, to another replica if there is one.
  // Patience grows with the utterance (a recognizer slower than real time still has a backlog
  // at its end) and restarts whenever the backend answers something.
  bool stalled = false;
  if (writing && saw_end_) {
    size_t audio_bytes = 0;
    for (const InputItem& item : consumed_) audio_bytes += item.audio.data().size();
    const absl::Duration patience = std::max(
        stall_timeout,
        2 * absl::Milliseconds(DurationMs(audio_bytes, session.input_format()).value_or(0)));
    absl::Time since = absl::Now();
    while (!stream_over->WaitUntil(since + patience)) {
      const absl::Time answered = absl::FromUnixNanos(last_response_ns);
      if (answered <= since) {
        stalled = !context.cancelled();
        break;
      }
      since = answered;
    }
    if (stalled) stream.context()->TryCancel();
  }
  const grpc::Status status = stream.Finish();

  std::lock_guard<std::mutex> lock(mu);
  if (context.cancelled()) return StageResult::Cancel(context.cancellation()->reason().message());
  if (stalled) {
    return StageResult::Retry(absl::UnavailableError(absl::StrCat(
        backend_->name(), " backend ", backend_->target(), ": no answer for ",
        absl::ToInt64Milliseconds(stall_timeout), " ms or more after the end of the utterance")));
  }
  if (!status.ok()) return Unfinished(FromGrpc(status, *backend_));
  if (!saw_end_) return Unfinished(absl::UnavailableError("stt stream ended before the utterance"));
  bool any_audio = false;
  for (const InputItem& item : consumed_) any_audio |= !item.end_of_utterance;
  if (!any_audio) return StageResult::Skip("no audio");
  return StageResult::Ok({{"transcript", absl::StrJoin(finals, " ")}});
}

std::optional<std::string> TtsStage::NextSentence(StageContext& context) {
  if (next_sentence_ < sentences_.size()) return sentences_[next_sentence_++];
  if (input_done_) return std::nullopt;
  const std::string producer =
      context.spec().streams_from().empty() ? "" : context.spec().streams_from(0);
  if (TextStream* stream = context.StreamFrom(producer); stream != nullptr) {
    while (!context.cancelled()) {
      std::optional<std::string> sentence = stream->Get(absl::Now() + absl::Milliseconds(50));
      if (sentence.has_value()) {
        sentences_.push_back(*sentence);
        ++next_sentence_;
        return sentence;
      }
      if (stream->closed() && stream->size() == 0) break;
    }
    input_done_ = !context.cancelled();
    return std::nullopt;
  }
  // No stream: the whole reply of the first dependency, split into sentences.
  if (!split_done_) {
    split_done_ = true;
    const std::string from =
        context.spec().depends_on().empty() ? "" : context.spec().depends_on(0);
    SentenceSplitter splitter;
    for (std::string& sentence : splitter.Append(context.Input(from, "reply"))) {
      sentences_.push_back(std::move(sentence));
    }
    if (std::string rest = splitter.Flush(); !rest.empty()) sentences_.push_back(std::move(rest));
  }
  input_done_ = true;
  if (next_sentence_ < sentences_.size()) return sentences_[next_sentence_++];
  return std::nullopt;
}

StageResult TtsStage::Run(StageContext& context) {
  next_sentence_ = spoken_;  // A retry re-sends the sentences whose audio did not complete.
  std::optional<std::string> first = NextSentence(context);
  if (!first.has_value()) {
    if (context.cancelled()) return StageResult::Cancel(context.cancellation()->reason().message());
    if (spoken_ > 0) {
      return StageResult::Ok({{"sentences", absl::StrCat(spoken_)},
                              {"audio_ms", absl::StrCat(static_cast<int64_t>(audio_ms_))}});
    }
    return StageResult::Skip("no reply text to speak");
  }
  environment_->Mark(TurnMark::kFirstSentence, absl::Now());
  if (absl::Status ready = backend_->WaitUntilReady(*context.cancellation()); !ready.ok()) {
    next_sentence_ = spoken_;
    return Unfinished(ready);
  }
  const v1::SessionConfig& session = environment_->config();

  TtsStream stream(TtsStream::Options{});  // Responses through Read(), on the reader below.
  stream.context()->set_deadline(absl::ToChronoTime(CallDeadline(context)));
  TagWithConversation(*stream.context());
  auto stub = v1::TextToSpeech::NewStub(backend_->channel());
  stub->async()->StreamingSynthesize(stream.context(), &stream);
  stream.Start();
  ScopedCancelCallback cancel_call(
      context.cancellation(), [&stream](const absl::Status&) { stream.context()->TryCancel(); });

  v1::SynthesizeRequest request;
  v1::SynthesisConfig* config = request.mutable_config();
  config->set_voice(context.Parameter("voice", session.voice()));
  config->set_language(session.language().empty() ? "en-US" : session.language());
  *config->mutable_output_format() = session.output_format();
  int chunk_ms = 20;
  if (!absl::SimpleAtoi(context.Parameter("chunk_duration_ms", "20"), &chunk_ms) || chunk_ms <= 0) {
    return StageResult::Fail(
        absl::InvalidArgumentError("tts parameter chunk_duration_ms must be a positive integer"));
  }
  config->set_chunk_duration_ms(chunk_ms);
  bool writing = stream.Write(std::move(request));

  // Reader: audio to the session's output as it arrives. Audio of sentence i means the sentences
  // before it are spoken (piece ids are sentence indexes).
  std::mutex mu;
  bool output_refused = false;
  std::thread reader([&] {
    v1::SynthesizeResponse response;
    while (stream.Read(&response)) {
      if (response.audio().data().empty()) continue;
      environment_->Mark(TurnMark::kTtsFirstByte, absl::Now());
      {
        std::lock_guard<std::mutex> lock(mu);
        size_t index = 0;
        if (absl::SimpleAtoi(response.piece_id(), &index)) spoken_ = std::max(spoken_, index);
        audio_ms_ += DurationMs(response.audio().data().size(), StreamFormatOf(response.audio()))
                         .value_or(0);
      }
      const std::string text = response.text();
      if (!environment_->OnReplyAudio(std::move(*response.mutable_audio()), text,
                                      *context.cancellation())) {
        std::lock_guard<std::mutex> lock(mu);
        output_refused = true;
        stream.context()->TryCancel();  // Nobody takes the rest: end the call.
        break;
      }
    }
  });

  for (std::optional<std::string> sentence = std::move(first); sentence.has_value() && writing;
       sentence = NextSentence(context)) {
    v1::SynthesizeRequest piece;
    piece.mutable_text()->set_text(*sentence + " ");
    piece.mutable_text()->set_piece_id(absl::StrCat(next_sentence_ - 1));
    v1::SynthesizeRequest flush;
    flush.set_flush(true);  // Speak it now: it is a whole sentence.
    writing = stream.Write(std::move(piece)) && stream.Write(std::move(flush));
  }
  if (writing) {
    v1::SynthesizeRequest end;
    end.set_end_of_input(true);
    stream.Write(std::move(end));
  }
  stream.WritesDone();
  reader.join();
  const grpc::Status status = stream.Finish();

  std::lock_guard<std::mutex> lock(mu);
  if (status.ok() && !output_refused && writing && input_done_) {
    spoken_ = sentences_.size();
    return StageResult::Ok({{"sentences", absl::StrCat(sentences_.size())},
                            {"audio_ms", absl::StrCat(static_cast<int64_t>(audio_ms_))}});
  }
  if (context.cancelled() || output_refused) {
    return StageResult::Cancel(context.cancellation()->reason().message());
  }
  if (!status.ok()) return Unfinished(FromGrpc(status, *backend_));
  return StageResult::Fail(absl::InternalError("tts stream ended early"));
}

}  // namespace voxflow::orchestrator
