#include "services/stt/openai_stt_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "services/common/http/sse_parser.h"
#include "services/common/wav_bytes.h"
#include "services/stt/silence_cut.h"
#include "services/stt/transcription_response.h"

namespace voxflow::stt {
namespace {

constexpr int kSampleRate = 16000;
constexpr size_t kBytesPerSecond = kSampleRate * 2;
// OpenAI refuses a file shorter than 0.1 s; shorter audio has no words to find anyway.
constexpr size_t kMinRequestBytes = kBytesPerSecond / 10;

// Whisper's languages (ISO 639-1, as its tokenizer lists them).
const std::vector<std::string>& WhisperLanguages() {
  static const auto* languages = new std::vector<std::string>(absl::StrSplit(
      "af,am,ar,as,az,ba,be,bg,bn,bo,br,bs,ca,cs,cy,da,de,el,en,es,et,eu,fa,fi,fo,fr,gl,gu,ha,haw,"
      "he,hi,hr,ht,hu,hy,id,is,it,ja,jw,ka,kk,km,kn,ko,la,lb,ln,lo,lt,lv,mg,mi,mk,ml,mn,mr,ms,mt,"
      "my,ne,nl,nn,no,oc,pa,pl,ps,pt,ro,ru,sa,sd,si,sk,sl,sn,so,sq,sr,su,sv,sw,ta,te,tg,th,tk,tl,"
      "tr,tt,uk,ur,uz,vi,yi,yo,yue,zh",
      ','));
  return *languages;
}

// "en-US" → "en": the form the API's `language` takes.
std::string PrimarySubtag(absl::string_view bcp47) {
  return absl::AsciiStrToLower(bcp47.substr(0, bcp47.find_first_of("-_")));
}

int64_t MsOf(size_t bytes) { return static_cast<int64_t>(bytes * 1000 / kBytesPerSecond); }

// One utterance's transcription: its pieces' requests, their answers, the final result. Shared
// with the requests' callbacks, so that a recognizer that goes away leaves them nothing to call.
class Transcription final : public std::enable_shared_from_this<Transcription> {
 public:
  Transcription(OpenAiSttEngine* engine, v1::RecognitionConfig config, ResultSink sink)
      : engine_(engine), config_(std::move(config)), sink_(std::move(sink)) {}

  // Uploads the piece of the utterance starting `offset_ms` into it.
  void Send(std::string pcm, int64_t offset_ms) {
    size_t index;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_ || over_) return;
      index = pieces_.size();
      pieces_.push_back(Piece{offset_ms, MsOf(pcm.size())});
      ++outstanding_;
    }
    Request(index, std::move(pcm));
  }

  // No more pieces: `done` runs once every answer is in and the final result went out.
  void Finish(Recognizer::Done done, int64_t audio_ms) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = std::move(done);
      finishing_ = true;
      finish_at_ = absl::Now();
      audio_ms_ = audio_ms;
    }
    MaybeComplete();
  }

  void Cancel() {
    std::vector<std::shared_ptr<RemoteRequest>> requests;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      requests = requests_;
    }
    for (const auto& request : requests) request->Abort();
    MaybeComplete();
  }

  // The recognizer is gone: no result goes anywhere any more.
  void Detach() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      sink_ = nullptr;
    }
    Cancel();
  }

 private:
  struct Piece {
    int64_t offset_ms = 0;
    int64_t duration_ms = 0;
    bool answered = false;
    stt::Transcription result;
    std::string body;         // The answer so far.
    SseParser events;         // When it streams.
    std::string streamed;     // Its deltas so far.
    std::optional<bool> sse;  // Known from the first byte.
  };

  void Request(size_t index, std::string pcm) {
    absl::StatusOr<std::string> wav = EncodeWav(pcm, kSampleRate, 1);
    if (!wav.ok()) return Answered(index, wav.status());
    const OpenAiSttOptions& options = engine_->options();
    const bool verbose = options.response_format == "verbose_json" && engine_->verbose();
    const bool stream = options.stream && config_.interim_results();
    HttpRequest request = RemoteHttpRequest(options.server, "/audio/transcriptions");
    request.form.push_back({"file", *std::move(wav), "utterance.wav", "audio/wav"});
    request.form.push_back(
        {"model", config_.model().empty() ? options.server.model : config_.model(), "", ""});
    request.form.push_back({"language", PrimarySubtag(config_.language()), "", ""});
    if (config_.phrase_hints_size() > 0) {
      request.form.push_back({"prompt", absl::StrJoin(config_.phrase_hints(), ", "), "", ""});
    }
    request.form.push_back({"response_format", verbose ? "verbose_json" : "json", "", ""});
    if (verbose && config_.word_times()) {
      request.form.push_back({"timestamp_granularities[]", "word", "", ""});
      request.form.push_back({"timestamp_granularities[]", "segment", "", ""});
    }
    if (stream) request.form.push_back({"stream", "true", "", ""});

    std::weak_ptr<Transcription> weak = weak_from_this();
    RemoteRequest::Callbacks callbacks;
    callbacks.on_attempt = [weak, index] {
      if (auto self = weak.lock()) self->Restart(index);
    };
    callbacks.on_body = [weak, index](absl::string_view bytes) {
      auto self = weak.lock();
      return self ? self->OnBody(index, bytes) : absl::CancelledError("recognizer gone");
    };
    // The form is rebuilt when verbose_json is refused, so keep the audio for that.
    auto audio = std::make_shared<std::string>(std::move(pcm));
    callbacks.on_done = [weak, index, verbose, audio](const absl::Status& status) {
      auto self = weak.lock();
      if (self == nullptr) return;
      if (verbose && status.code() == absl::StatusCode::kInvalidArgument) {
        // A server without verbose_json (some whisper servers) answers 400: ask for json from
        // now on, and ask again.
        self->engine_->RefuseVerbose();
        return self->Request(index, std::move(*audio));
      }
      self->Answered(index, status);
    };
    std::shared_ptr<RemoteRequest> remote = RemoteRequest::Start(
        std::move(request), options.server.retry, "stt", "openai", std::move(callbacks));
    bool cancelled;
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(remote);
      cancelled = cancelled_;
    }
    if (cancelled) remote->Abort();
  }

  void Restart(size_t index) {
    std::lock_guard<std::mutex> lock(mu_);
    Piece& piece = pieces_[index];
    piece.body.clear();
    piece.events = SseParser();
    piece.streamed.clear();
    piece.sse.reset();
  }

  // The loop's thread.
  absl::Status OnBody(size_t index, absl::string_view bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    Piece& piece = pieces_[index];
    if (!piece.sse.has_value()) {
      const absl::string_view start = absl::StripLeadingAsciiWhitespace(bytes);
      if (start.empty()) return absl::OkStatus();
      // A whole json answer, or server-sent events (a streamed transcription).
      piece.sse = start.front() != '{';
    }
    if (!*piece.sse) {
      piece.body.append(bytes.data(), bytes.size());
      return absl::OkStatus();
    }
    for (const SseEvent& event : piece.events.Push(bytes)) {
      absl::StatusOr<TranscriptionEvent> parsed = ParseTranscriptionEvent(event);
      if (!parsed.ok()) return parsed.status();
      if (parsed->kind == TranscriptionEvent::Kind::kDelta) {
        piece.streamed += parsed->text;
        Interim(index);
      } else if (parsed->kind == TranscriptionEvent::Kind::kDone) {
        piece.result.text = parsed->text;
        piece.body = "done";
      }
    }
    return absl::OkStatus();
  }

  // Under mu_: the utterance as heard so far.
  void Interim(size_t index) {
    if (sink_ == nullptr) return;
    std::vector<std::string> texts;
    for (size_t i = 0; i < index; ++i) texts.push_back(pieces_[i].result.text);
    texts.push_back(std::string(absl::StripAsciiWhitespace(pieces_[index].streamed)));
    v1::RecognizeResponse response;
    v1::Transcript* t = response.mutable_transcript();
    t->set_text(absl::StrJoin(texts, " "));
    t->set_stability(0.5f);
    t->set_end_ms(pieces_[index].offset_ms + pieces_[index].duration_ms);
    t->set_provider("openai");
    t->set_model(config_.model().empty() ? engine_->options().server.model : config_.model());
    sink_(std::move(response));  // Quick (it queues), and never calls back into us.
  }

  void Answered(size_t index, absl::Status status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      Piece& piece = pieces_[index];
      if (status.ok() && piece.sse.value_or(false)) {
        if (piece.body != "done") {
          if (piece.streamed.empty()) {
            status = absl::InternalError(
                "malformed transcription stream: it ended without transcript.text.done");
          } else {
            piece.result.text = std::string(absl::StripAsciiWhitespace(piece.streamed));
          }
        }
      } else if (status.ok()) {
        absl::StatusOr<stt::Transcription> parsed = ParseTranscription(piece.body);
        if (parsed.ok()) {
          piece.result = *std::move(parsed);
        } else {
          status = parsed.status();
        }
      }
      if (!status.ok() && !cancelled_) {
        status = absl::Status(status.code(),
                              absl::StrCat("transcription (", engine_->options().server.base_url,
                                           "/audio/transcriptions): ", status.message()));
      }
      piece.answered = true;
      piece.body.clear();
      --outstanding_;
      if (!status.ok() && error_.ok()) error_ = status;
    }
    MaybeComplete();
  }

  void MaybeComplete() {
    Recognizer::Done done;
    absl::Status outcome;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!finishing_ || over_) return;
      if (!cancelled_ && error_.ok() && outstanding_ > 0) return;
      over_ = true;
      done = std::move(done_);
      outcome = cancelled_ ? absl::CancelledError("recognition cancelled") : error_;
      if (outcome.ok() && sink_ != nullptr) sink_(Final());
    }
    if (!outcome.ok()) {
      std::vector<std::shared_ptr<RemoteRequest>> requests;
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests = requests_;
      }
      for (const auto& request : requests) request->Abort();
    }
    if (done) done(outcome);
  }

  // Under mu_: the utterance's final result, its pieces put together.
  v1::RecognizeResponse Final() {
    v1::RecognizeResponse response;
    v1::Transcript* t = response.mutable_transcript();
    std::vector<std::string> texts;
    double confidence = 0;
    int scored = 0;
    for (const Piece& piece : pieces_) {
      if (!piece.result.text.empty()) texts.push_back(piece.result.text);
      if (piece.result.confidence > 0) {
        confidence += piece.result.confidence;
        ++scored;
      }
      if (config_.word_times()) {
        for (v1::WordInfo word : piece.result.words) {
          word.set_start_ms(word.start_ms() + piece.offset_ms);
          word.set_end_ms(word.end_ms() + piece.offset_ms);
          *t->add_words() = std::move(word);
        }
      }
    }
    t->set_text(absl::StrJoin(texts, " "));
    t->set_is_final(true);
    t->set_stability(1.0f);
    t->set_confidence(scored > 0 ? static_cast<float>(confidence / scored) : 0.0f);
    t->set_start_ms(0);
    t->set_end_ms(audio_ms_);
    t->set_provider("openai");
    t->set_model(config_.model().empty() ? engine_->options().server.model : config_.model());
    t->set_latency_ms(absl::ToInt64Milliseconds(absl::Now() - finish_at_));
    return response;
  }

  OpenAiSttEngine* const engine_;
  const v1::RecognitionConfig config_;
  std::mutex mu_;
  ResultSink sink_;
  std::vector<Piece> pieces_;
  std::vector<std::shared_ptr<RemoteRequest>> requests_;
  int outstanding_ = 0;
  absl::Status error_;
  Recognizer::Done done_;
  absl::Time finish_at_;
  int64_t audio_ms_ = 0;
  bool finishing_ = false;
  bool cancelled_ = false;
  bool over_ = false;
};

class OpenAiRecognizer final : public Recognizer {
 public:
  OpenAiRecognizer(OpenAiSttEngine* engine, v1::RecognitionConfig config, ResultSink sink)
      : max_bytes_(static_cast<size_t>(std::max(1, engine->options().max_audio_s)) *
                   kBytesPerSecond),
        transcription_(
            std::make_shared<Transcription>(engine, std::move(config), std::move(sink))) {}
  ~OpenAiRecognizer() override { transcription_->Detach(); }

  absl::Status Process(absl::string_view pcm) override {
    if (finished_) return absl::FailedPreconditionError("audio after end of input");
    audio_.append(pcm.data(), pcm.size());
    while (audio_.size() > max_bytes_) {
      // Too long for one request: cut at a silence, so that no word is split.
      const size_t cut = QuietestCut(absl::string_view(audio_).substr(0, max_bytes_), kSampleRate);
      transcription_->Send(audio_.substr(0, cut), MsOf(sent_bytes_));
      sent_bytes_ += cut;
      audio_.erase(0, cut);
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    return absl::UnimplementedError("the openai provider finishes asynchronously");
  }

  void FinishAsync(Done done) override {
    finished_ = true;
    if (audio_.size() >= kMinRequestBytes) transcription_->Send(audio_, MsOf(sent_bytes_));
    sent_bytes_ += audio_.size();
    audio_.clear();
    transcription_->Finish(std::move(done), MsOf(sent_bytes_));
  }

  void Cancel() override { transcription_->Cancel(); }

 private:
  const size_t max_bytes_;
  std::shared_ptr<Transcription> transcription_;
  std::string audio_;  // Not sent yet.
  size_t sent_bytes_ = 0;
  bool finished_ = false;
};

}  // namespace

OpenAiSttEngine::OpenAiSttEngine(OpenAiSttOptions options)
    : options_(std::move(options)), verbose_(options_.response_format == "verbose_json") {}

std::vector<std::string> OpenAiSttEngine::Languages() const {
  return options_.languages.empty() ? WhisperLanguages() : options_.languages;
}

bool OpenAiSttEngine::SupportsLanguage(absl::string_view language) const {
  if (!options_.languages.empty()) return SttEngine::SupportsLanguage(language);
  const std::vector<std::string>& known = WhisperLanguages();
  return std::find(known.begin(), known.end(), PrimarySubtag(language)) != known.end();
}

v1::AudioStreamFormat OpenAiSttEngine::NativeFormat(const v1::AudioStreamFormat&) const {
  v1::AudioStreamFormat format;
  format.set_format(v1::PCM16);
  format.set_sample_rate(kSampleRate);
  format.set_channels(1);
  return format;
}

absl::StatusOr<std::unique_ptr<Recognizer>> OpenAiSttEngine::Open(
    const v1::RecognitionConfig& config, ResultSink sink, const std::atomic<bool>*) {
  return std::make_unique<OpenAiRecognizer>(this, config, std::move(sink));
}

}  // namespace voxflow::stt
