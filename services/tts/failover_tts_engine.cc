#include "services/tts/failover_tts_engine.h"

#include <algorithm>
#include <mutex>
#include <set>
#include <utility>

#include "absl/synchronization/notification.h"
#include "services/common/audio_converter.h"

namespace voxflow::tts {
namespace {

std::vector<std::string> Names(const std::vector<std::unique_ptr<TtsEngine>>& engines) {
  std::vector<std::string> names;
  for (const auto& engine : engines) names.push_back(engine->name());
  return names;
}

bool SameFormat(const v1::AudioStreamFormat& a, const v1::AudioStreamFormat& b) {
  return a.format() == b.format() && a.sample_rate() == b.sample_rate() &&
         a.channels() == b.channels();
}

// One sentence across the chain.
class FailoverRendering final : public std::enable_shared_from_this<FailoverRendering> {
 public:
  FailoverRendering(FailoverTtsEngine* engine, RenderRequest request, v1::AudioStreamFormat native,
                    RenderCallbacks callbacks)
      : engine_(engine),
        request_(std::move(request)),
        native_(std::move(native)),
        callbacks_(std::move(callbacks)) {}

  void Attempt(size_t index) {
    TtsEngine& provider = engine_->engine(index);
    RenderRequest request = request_;
    if (!engine_->HasVoice(index, request.voice)) {
      // A fallback speaks in its own voice for the language.
      absl::StatusOr<std::string> voice = provider.ResolveVoice("", request.language);
      if (!voice.ok()) return Failed(index, voice.status());
      request.voice = *voice;
    }
    const v1::AudioStreamFormat format = provider.NativeFormat(request.voice, native_);
    std::shared_ptr<AudioConverter> converter;
    if (!SameFormat(format, native_)) {
      absl::StatusOr<std::unique_ptr<AudioConverter>> made =
          AudioConverter::Create(format, native_);
      if (!made.ok()) return Failed(index, made.status());
      converter = *std::move(made);
    }
    auto self = shared_from_this();
    RenderCallbacks callbacks;
    callbacks.on_provider = callbacks_.on_provider;
    callbacks.on_pcm = [self, converter](absl::string_view pcm) {
      if (converter == nullptr) return self->callbacks_.on_pcm(pcm);
      absl::StatusOr<std::string> converted = converter->Convert(pcm);
      if (!converted.ok()) return false;
      return converted->empty() || self->callbacks_.on_pcm(*converted);
    };
    callbacks.on_done = [self, index, converter](const absl::Status& status) {
      if (status.ok() && converter != nullptr) {
        const std::string tail = converter->Flush();
        if (!tail.empty()) self->callbacks_.on_pcm(tail);
      }
      if (status.ok()) {
        self->engine_->chain().RecordSuccess(index);
        return self->Done(status);
      }
      self->Failed(index, status);
    };
    std::function<void()> abort = provider.RenderAsync(request, format, std::move(callbacks));
    bool aborted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // The attempt may be over already (a failure answered at once, and the next provider done
      // on the fallback pool): its abort, which holds this rendering through the attempt's
      // callbacks, is then let go here, never kept (a cycle: ASan saw the sentence leak).
      if (!done_) abort_ = std::move(abort);
      aborted = aborted_;
    }
    if (aborted) Abort();
  }

  void Abort() {
    std::function<void()> abort;
    {
      std::lock_guard<std::mutex> lock(mu_);
      aborted_ = true;
      abort = abort_;
    }
    if (abort) abort();
  }

 private:
  void Failed(size_t index, const absl::Status& status) {
    bool aborted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      aborted = aborted_;
    }
    if (aborted || status.code() == absl::StatusCode::kCancelled ||
        (request_.cancelled != nullptr && request_.cancelled->load())) {
      return Done(status);
    }
    const std::optional<size_t> next = engine_->chain().Next(index);
    engine_->chain().RecordFailure(index, status, next);
    if (!next.has_value()) return Done(status);
    // The fallback may render on this thread, which may be the HTTP loop's.
    auto self = shared_from_this();
    engine_->fallback_pool().Submit([self, next = *next] { self->Attempt(next); });
  }

  void Done(const absl::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (done_) return;
      done_ = true;
      abort_ = nullptr;
    }
    callbacks_.on_done(status);
  }

  FailoverTtsEngine* const engine_;
  const RenderRequest request_;
  const v1::AudioStreamFormat native_;
  const RenderCallbacks callbacks_;
  std::mutex mu_;
  std::function<void()> abort_;
  bool aborted_ = false;
  bool done_ = false;
};

}  // namespace

FailoverTtsEngine::FailoverTtsEngine(std::vector<std::unique_ptr<TtsEngine>> engines,
                                     BreakerOptions breaker, CircuitBreaker::Clock clock,
                                     int fallback_threads)
    : engines_(std::move(engines)),
      chain_("tts", Names(engines_), breaker, std::move(clock)),
      fallback_pool_(std::max(1, fallback_threads)) {
  // The engines' voices are fixed once they are made: listed once, not per sentence.
  for (const auto& engine : engines_) {
    std::set<std::string>& names = voice_names_.emplace_back();
    for (v1::Voice& voice : engine->Voices()) {
      names.insert(voice.name());
      const bool seen = std::any_of(voices_.begin(), voices_.end(),
                                    [&](const v1::Voice& v) { return v.name() == voice.name(); });
      if (!seen) {
        if (voice.provider().empty()) voice.set_provider(engine->name());
        voices_.push_back(std::move(voice));
      }
    }
  }
}

bool FailoverTtsEngine::HasVoice(size_t index, const std::string& voice) const {
  return voice_names_[index].contains(voice);
}

const TtsEngine* FailoverTtsEngine::Owner(const std::string& voice) const {
  for (size_t i = 0; i < engines_.size(); ++i) {
    if (HasVoice(i, voice)) return engines_[i].get();
  }
  return nullptr;
}

absl::StatusOr<std::string> FailoverTtsEngine::ResolveVoice(const std::string& voice,
                                                            const std::string& language) const {
  if (!voice.empty() && Owner(voice) != nullptr) return voice;
  absl::Status first_error;
  for (const auto& engine : engines_) {
    absl::StatusOr<std::string> resolved = engine->ResolveVoice(voice, language);
    if (resolved.ok()) return resolved;
    if (first_error.ok()) first_error = resolved.status();
  }
  return first_error;
}

v1::AudioStreamFormat FailoverTtsEngine::NativeFormat(
    const std::string& voice, const v1::AudioStreamFormat& requested) const {
  const TtsEngine* owner = Owner(voice);
  return (owner != nullptr ? owner : engines_.front().get())->NativeFormat(voice, requested);
}

std::function<void()> FailoverTtsEngine::RenderAsync(const RenderRequest& request,
                                                     const v1::AudioStreamFormat& native_format,
                                                     RenderCallbacks callbacks) {
  auto rendering =
      std::make_shared<FailoverRendering>(this, request, native_format, std::move(callbacks));
  rendering->Attempt(chain_.First(request.provider));
  return [rendering] { rendering->Abort(); };
}

absl::Status FailoverTtsEngine::Render(const RenderRequest& request,
                                       const v1::AudioStreamFormat& native_format,
                                       const PcmSink& sink) {
  return RenderAndWait(request, native_format, sink);
}

}  // namespace voxflow::tts
