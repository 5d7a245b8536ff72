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
using TtsStream = ClientStream<v1::SynthesizeRequest, v1::SynthesizeResponse>;

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
