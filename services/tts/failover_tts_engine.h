// FailoverTtsEngine: the TTS service's providers in the order it falls back through them
// (--providers=openai,espeak-ng). A sentence is rendered by the provider its config names (or
// the first whose circuit breaker lets it); when that provider fails — refused, timed out, a
// 5xx, a 429 past its retry budget, a cut or malformed answer — the next one renders the same
// sentence again, in its own voice for the config's language, converted to the first one's
// format, so the caller still hears the reply. Each response names the provider that rendered
// it (SynthesizeResponse.provider). A sentence cut off midway is said again whole by the next.
#ifndef VOXFLOW_SERVICES_TTS_FAILOVER_TTS_ENGINE_H_
#define VOXFLOW_SERVICES_TTS_FAILOVER_TTS_ENGINE_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "services/common/providers/provider_chain.h"
#include "services/common/providers/served_provider.h"
#include "services/common/worker_pool.h"
#include "services/tts/tts_engine.h"

namespace voxflow::tts {

class FailoverTtsEngine final : public TtsEngine {
 public:
  // `engines` non-empty, in fallback order; `fallback_threads` render a fallback's sentence
  // (an offline engine's work, never on the HTTP loop's thread).
  FailoverTtsEngine(std::vector<std::unique_ptr<TtsEngine>> engines, BreakerOptions breaker,
                    CircuitBreaker::Clock clock, int fallback_threads);

  std::string name() const override { return chain_.Describe(); }
  std::vector<v1::Voice> Voices() const override { return voices_; }
  absl::StatusOr<std::string> ResolveVoice(const std::string& voice,
                                           const std::string& language) const override;
  absl::Status CheckProvider(absl::string_view requested) const override {
    return CheckServedProvider(requested, chain_.names());
  }
  v1::AudioStreamFormat NativeFormat(const std::string& voice,
                                     const v1::AudioStreamFormat& requested) const override;
  absl::Status Render(const RenderRequest& request, const v1::AudioStreamFormat& native_format,
                      const PcmSink& sink) override;
  std::function<void()> RenderAsync(const RenderRequest& request,
                                    const v1::AudioStreamFormat& native_format,
                                    RenderCallbacks callbacks) override;

  ProviderChain& chain() { return chain_; }
  // Whether engine `index` has `voice`.
  bool HasVoice(size_t index, const std::string& voice) const;
  TtsEngine& engine(size_t index) { return *engines_[index]; }
  WorkerPool& fallback_pool() { return fallback_pool_; }

 private:
  // The engine that has `voice` (the first in the chain's order), or nullptr.
  const TtsEngine* Owner(const std::string& voice) const;

  std::vector<std::unique_ptr<TtsEngine>> engines_;
  std::vector<v1::Voice> voices_;                   // Every engine's, the first of a name.
  std::vector<std::set<std::string>> voice_names_;  // By engine.
  ProviderChain chain_;
  WorkerPool fallback_pool_;
};

}  // namespace voxflow::tts

#endif  // VOXFLOW_SERVICES_TTS_FAILOVER_TTS_ENGINE_H_
