// FailoverSttEngine: the STT service's providers in the order it falls back through them
// (--providers=openai,pocketsphinx). A stream starts with the provider its config names (or the
// first whose circuit breaker lets it); when that provider fails — refused, timed out, a 5xx, a
// 429 past its retry budget, a cut or malformed answer — the utterance's audio, kept as it was
// fed, is recognised again by the next one, so the caller still gets a transcript. Each result
// names the provider that served it (Transcript.provider).
#ifndef VOXFLOW_SERVICES_STT_FAILOVER_STT_ENGINE_H_
#define VOXFLOW_SERVICES_STT_FAILOVER_STT_ENGINE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/common/providers/provider_chain.h"
#include "services/common/providers/served_provider.h"
#include "services/common/worker_pool.h"
#include "services/stt/stt_engine.h"

namespace voxflow::stt {

class FailoverSttEngine final : public SttEngine {
 public:
  // `engines` non-empty, in fallback order. `replay_threads` run a fallback's recognition of
  // the kept audio (an offline engine's work, never on the HTTP loop's thread).
  FailoverSttEngine(std::vector<std::unique_ptr<SttEngine>> engines, BreakerOptions breaker,
                    CircuitBreaker::Clock clock, int replay_threads);

  std::string name() const override { return chain_.Describe(); }
  std::vector<std::string> Languages() const override;
  bool SupportsLanguage(absl::string_view language) const override;
  absl::Status CheckProvider(absl::string_view requested) const override {
    return CheckServedProvider(requested, chain_.names());
  }
  v1::AudioStreamFormat NativeFormat(const v1::AudioStreamFormat& input) const override {
    return engines_.front()->NativeFormat(input);
  }
  absl::StatusOr<std::unique_ptr<Recognizer>> Open(const v1::RecognitionConfig& config,
                                                   ResultSink sink,
                                                   const std::atomic<bool>* cancelled) override;

  ProviderChain& chain() { return chain_; }
  SttEngine& engine(size_t index) { return *engines_[index]; }
  WorkerPool& replay_pool() { return replay_pool_; }
  // The provider to serve `language` from `start` on (its breaker permitting), or after
  // `failed`: nullopt when none is left.
  std::optional<size_t> FirstFor(absl::string_view requested, absl::string_view language);
  std::optional<size_t> NextFor(size_t failed, absl::string_view language);

 private:
  std::vector<std::unique_ptr<SttEngine>> engines_;
  ProviderChain chain_;
  WorkerPool replay_pool_;
};

}  // namespace voxflow::stt

#endif  // VOXFLOW_SERVICES_STT_FAILOVER_STT_ENGINE_H_
