#include "services/stt/failover_stt_engine.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/audio_converter.h"

namespace voxflow::stt {
namespace {

std::vector<std::string> Names(const std::vector<std::unique_ptr<SttEngine>>& engines) {
  std::vector<std::string> names;
  for (const auto& engine : engines) names.push_back(engine->name());
  return names;
}

// One stream's recognition across the chain. Shared with the recognizers' callbacks.
class FailoverRun final : public std::enable_shared_from_this<FailoverRun> {
 public:
  FailoverRun(FailoverSttEngine* engine, v1::RecognitionConfig config, ResultSink sink,
              const std::atomic<bool>* cancelled)
      : engine_(engine),
        config_(std::move(config)),
        cancelled_(cancelled),
        sink_(std::move(sink)) {}

  absl::Status Start(size_t index) {
    absl::StatusOr<Recognizer*> recognizer = Switch(index);
    return recognizer.ok() ? absl::OkStatus() : recognizer.status();
  }

  absl::Status Process(absl::string_view pcm) {
    Recognizer* recognizer;
    size_t index;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Kept for a fallback to hear again; a chain of one has none.
      if (engine_->chain().size() > 1) kept_.append(pcm.data(), pcm.size());
      recognizer = current_;
      index = index_;
    }
    const absl::Status status = recognizer->Process(pcm);
    // The audio so far, again, to the next provider, here: the stream is waiting anyway.
    return status.ok() ? status : FailOverFrom(index, status).status();
  }

  void Finish(Recognizer::Done done) {
    const auto [recognizer, index] = Current();
    FinishWith(recognizer, index, std::move(done));
  }

  void Cancel() {
    Recognizer* recognizer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_by_call_ = true;
      recognizer = current_;
    }
    if (recognizer != nullptr) recognizer->Cancel();
  }

  void Detach() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      sink_ = nullptr;
    }
    Cancel();
  }

 private:
  bool Cancelled(const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    return status.code() == absl::StatusCode::kCancelled || cancelled_by_call_ ||
           (cancelled_ != nullptr && cancelled_->load());
  }

  // Opens provider `index`'s recognizer; earlier ones stay (silenced) until the run ends, so that
  // a callback still running in one finds it alive.
  absl::StatusOr<Recognizer*> Switch(size_t index) {
    int generation;
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation = ++generation_;
    }
    std::weak_ptr<FailoverRun> weak = weak_from_this();
    absl::StatusOr<std::unique_ptr<Recognizer>> opened = engine_->engine(index).Open(
        config_,
        [weak, generation](v1::RecognizeResponse response) {
          if (auto self = weak.lock()) self->Deliver(generation, std::move(response));
        },
        cancelled_);
    if (!opened.ok()) return opened.status();
    std::lock_guard<std::mutex> lock(mu_);
    recognizers_.push_back(*std::move(opened));
    current_ = recognizers_.back().get();
    index_ = index;
    return current_;
  }

  void Deliver(int generation, v1::RecognizeResponse response) {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_ || sink_ == nullptr) return;  // A provider given up on.
    // What a final covers is recognised: a later failure re-sends only what follows it.
    if (response.has_transcript() && response.transcript().is_final()) kept_.clear();
    sink_(std::move(response));  // Quick (it queues), and never calls back into us.
  }

  std::pair<Recognizer*, size_t> Current() {
    std::lock_guard<std::mutex> lock(mu_);
    return {current_, index_};
  }

  // Provider `index` failed with `failure` (recorded here): the next ones hear the kept audio
  // until one takes it. The provider that serves now, or the last failure.
  absl::StatusOr<size_t> FailOverFrom(size_t index, absl::Status failure) {
    while (!Cancelled(failure)) {
      const std::optional<size_t> next = engine_->NextFor(index, config_.language());
      engine_->chain().RecordFailure(index, failure, next);
      if (!next.has_value()) break;
      index = *next;
      failure = Replay(index);
      if (failure.ok()) return index;
    }
    return failure;
  }

  // Provider `index` takes over: it hears the kept audio.
  absl::Status Replay(size_t index) {
    absl::StatusOr<Recognizer*> recognizer = Switch(index);
    if (!recognizer.ok()) return recognizer.status();
    std::string audio;
    {
      std::lock_guard<std::mutex> lock(mu_);
      audio = kept_;
    }
    const v1::AudioStreamFormat from = engine_->NativeFormat(config_.audio_format());
    const v1::AudioStreamFormat to = engine_->engine(index).NativeFormat(config_.audio_format());
    if (from.sample_rate() != to.sample_rate() || from.channels() != to.channels() ||
        from.format() != to.format()) {
      absl::StatusOr<std::unique_ptr<AudioConverter>> converter = AudioConverter::Create(from, to);
      if (!converter.ok()) return converter.status();
      absl::StatusOr<std::string> converted = (*converter)->Convert(audio);
      if (!converted.ok()) return converted.status();
      audio = *std::move(converted) + (*converter)->Flush();
    }
    // As a stream would have fed it: an engine's voice detector decides per chunk.
    const size_t piece = static_cast<size_t>(std::max(1, to.sample_rate() / 10)) * 2 *
                         static_cast<size_t>(std::max(1, to.channels()));
    for (size_t at = 0; at < audio.size(); at += piece) {
      absl::string_view chunk = absl::string_view(audio).substr(at, piece);
      if (absl::Status s = (*recognizer)->Process(chunk); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  void FinishWith(Recognizer* recognizer, size_t index, Recognizer::Done done) {
    auto self = shared_from_this();
    recognizer->FinishAsync([self, index, done](const absl::Status& status) {
      if (status.ok()) {
        self->engine_->chain().RecordSuccess(index);
        return done(status);
      }
      if (self->Cancelled(status)) return done(status);
      // The fallback recognises on its own threads: this may be the HTTP loop's.
      self->engine_->replay_pool().Submit([self, index, status, done] {
        const absl::StatusOr<size_t> served = self->FailOverFrom(index, status);
        if (!served.ok()) return done(served.status());
        self->FinishWith(self->Current().first, *served, done);
      });
    });
  }

  FailoverSttEngine* const engine_;
  const v1::RecognitionConfig config_;
  const std::atomic<bool>* const cancelled_;
  std::mutex mu_;
  ResultSink sink_;
  std::string kept_;  // The native audio not yet covered by a final result.
  std::vector<std::unique_ptr<Recognizer>> recognizers_;
  Recognizer* current_ = nullptr;
  size_t index_ = 0;
  int generation_ = 0;
  bool cancelled_by_call_ = false;
};

class FailoverRecognizer final : public Recognizer {
 public:
  explicit FailoverRecognizer(std::shared_ptr<FailoverRun> run) : run_(std::move(run)) {}
  ~FailoverRecognizer() override { run_->Detach(); }

  absl::Status Process(absl::string_view pcm) override { return run_->Process(pcm); }
  absl::Status Finish() override {
    return absl::UnimplementedError("the failover recognizer finishes asynchronously");
  }
  void FinishAsync(Done done) override { run_->Finish(std::move(done)); }
  void Cancel() override { run_->Cancel(); }

 private:
  std::shared_ptr<FailoverRun> run_;
};

}  // namespace

FailoverSttEngine::FailoverSttEngine(std::vector<std::unique_ptr<SttEngine>> engines,
                                     BreakerOptions breaker, CircuitBreaker::Clock clock,
                                     int replay_threads)
    : engines_(std::move(engines)),
      chain_("stt", Names(engines_), breaker, std::move(clock)),
      replay_pool_(std::max(1, replay_threads)) {}

std::vector<std::string> FailoverSttEngine::Languages() const {
  std::vector<std::string> all;
  for (const auto& engine : engines_) {
    for (std::string& language : engine->Languages()) {
      if (std::find(all.begin(), all.end(), language) == all.end()) {
        all.push_back(std::move(language));
      }
    }
  }
  return all;
}

bool FailoverSttEngine::SupportsLanguage(absl::string_view language) const {
  return std::any_of(engines_.begin(), engines_.end(),
                     [&](const auto& engine) { return engine->SupportsLanguage(language); });
}

std::optional<size_t> FailoverSttEngine::FirstFor(absl::string_view requested,
                                                  absl::string_view language) {
  const size_t first = chain_.First(requested);
  if (engines_[first]->SupportsLanguage(language)) return first;
  return NextFor(first, language);
}

std::optional<size_t> FailoverSttEngine::NextFor(size_t failed, absl::string_view language) {
  for (std::optional<size_t> next = chain_.Next(failed); next.has_value();
       next = chain_.Next(*next)) {
    if (engines_[*next]->SupportsLanguage(language)) return next;
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<Recognizer>> FailoverSttEngine::Open(
    const v1::RecognitionConfig& config, ResultSink sink, const std::atomic<bool>* cancelled) {
  const std::optional<size_t> first = FirstFor(config.provider(), config.language());
  if (!first.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.language: no provider here (", chain_.Describe(), ") recognises it"));
  }
  auto run = std::make_shared<FailoverRun>(this, config, std::move(sink), cancelled);
  if (absl::Status s = run->Start(*first); !s.ok()) return s;
  return std::make_unique<FailoverRecognizer>(std::move(run));
}

}  // namespace voxflow::stt
