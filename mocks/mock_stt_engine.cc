#include "mocks/mock_stt_engine.h"

#include <openssl/evp.h>

#include <cstdio>

#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "mocks/cancellable_wait.h"
#include "services/common/audio_chunk.h"

namespace voxflow::mocks {
namespace {

class MockRecognizer final : public stt::Recognizer {
 public:
  MockRecognizer(MockSttEngine* engine, v1::RecognitionConfig config, stt::ResultSink sink,
                 const std::atomic<bool>* cancelled)
      : engine_(engine),
        config_(std::move(config)),
        sink_(std::move(sink)),
        cancelled_(cancelled) {}

  absl::Status Process(absl::string_view pcm) override {
    const MockSttOptions& o = engine_->options();
    if (o.fail_after_chunks >= 0 && chunks_ >= o.fail_after_chunks) {
      return absl::UnavailableError("mock STT failure after " + std::to_string(chunks_) +
                                    " chunks");
    }
    ++chunks_;
    if (o.chunk_delay_ms > 0 && !CancellableWait(o.chunk_delay_ms, cancelled_)) {
      return absl::CancelledError("cancelled");
    }
    if (audio_.empty()) {
      v1::RecognizeResponse started;
      started.mutable_speech_event()->set_type(v1::SpeechEvent::SPEECH_STARTED);
      sink_(std::move(started));
    }
    audio_.append(pcm.data(), pcm.size());
    const double ms = *DurationMs(audio_.size(), config_.audio_format());
    if (config_.interim_results() && o.interim_every_ms > 0) {
      const std::vector<std::string> words = absl::StrSplit(engine_->PeekNext(), ' ');
      const size_t reveal = std::min(words.size(), static_cast<size_t>(ms / o.interim_every_ms));
      if (reveal > revealed_) {
        revealed_ = reveal;
        v1::RecognizeResponse interim;
        v1::Transcript* t = interim.mutable_transcript();
        t->set_text(absl::StrJoin(words.begin(), words.begin() + reveal, " "));
        t->set_stability(0.5f);
        t->set_end_ms(static_cast<int64_t>(ms));
        t->set_provider("mock");
        sink_(std::move(interim));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    const MockSttOptions& o = engine_->options();
    if (o.hang) {
      while (CancellableWait(50, cancelled_)) {
      }
      return absl::CancelledError("mock STT hang cancelled");
    }
    const MockSttEngine::Draw draw = engine_->DrawResult();
    if (!CancellableWait(draw.latency_ms, cancelled_)) return absl::CancelledError("cancelled");
    if (draw.fail) return absl::UnavailableError("mock STT failure (fail_rate)");
    const double ms = audio_.empty() ? 0 : *DurationMs(audio_.size(), config_.audio_format());
    v1::RecognizeResponse final;
    v1::Transcript* t = final.mutable_transcript();
    // "{bytes}" in a transcription says how much audio this stream carried (tests count input).
    t->set_text(absl::StrReplaceAll(engine_->Take(AudioHash(audio_)),
                                    {{"{bytes}", std::to_string(audio_.size())}}));
    t->set_is_final(true);
    t->set_stability(1.0f);
    t->set_confidence(draw.confidence);
    t->set_end_ms(static_cast<int64_t>(ms));
    t->set_provider("mock");
    t->set_model("mock");
    t->set_latency_ms(draw.latency_ms);
    sink_(std::move(final));
    v1::RecognizeResponse end;
    end.mutable_speech_event()->set_type(v1::SpeechEvent::END_OF_UTTERANCE);
    end.mutable_speech_event()->set_offset_ms(static_cast<int64_t>(ms));
    sink_(std::move(end));
    return absl::OkStatus();
  }

 private:
  MockSttEngine* const engine_;
  const v1::RecognitionConfig config_;
  const stt::ResultSink sink_;
  const std::atomic<bool>* const cancelled_;
  std::string audio_;
  size_t revealed_ = 0;
  int chunks_ = 0;
};

}  // namespace

std::string AudioHash(absl::string_view pcm) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(pcm.data(), pcm.size(), digest, &length, EVP_md5(), nullptr);
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < 8 && i < length; ++i) {
    std::snprintf(byte, sizeof(byte), "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

MockSttEngine::MockSttEngine(MockSttOptions options)
    : options_([&] {
        if (options.transcriptions.empty()) options.transcriptions = {"Mock transcription"};
        return std::move(options);
      }()),
      rng_(options_.seed) {}

std::string MockSttEngine::PeekNext() {
  std::lock_guard<std::mutex> lock(mu_);
  return options_.transcriptions[next_ % options_.transcriptions.size()];
}

std::string MockSttEngine::Take(const std::string& audio_hash) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = options_.audio_map.find(audio_hash); it != options_.audio_map.end()) {
    return it->second;  // A hit does not advance the cycle.
  }
  return options_.transcriptions[next_++ % options_.transcriptions.size()];
}

MockSttEngine::Draw MockSttEngine::DrawResult() {
  std::lock_guard<std::mutex> lock(mu_);
  const int jitter = options_.latency_jitter_ms > 0
                         ? std::uniform_int_distribution<int>(-options_.latency_jitter_ms,
                                                              options_.latency_jitter_ms)(rng_)
                         : 0;
  const float confidence = std::uniform_real_distribution<float>(0.85f, 0.99f)(rng_);
  const bool fail = std::uniform_real_distribution<double>(0, 1)(rng_) < options_.fail_rate;
  return {std::max(0, options_.latency_ms + jitter), confidence, fail};
}

absl::StatusOr<std::unique_ptr<stt::Recognizer>> MockSttEngine::Open(
    const v1::RecognitionConfig& config, stt::ResultSink sink, const std::atomic<bool>* cancelled) {
  return std::unique_ptr<stt::Recognizer>(
      new MockRecognizer(this, config, std::move(sink), cancelled));
}

}  // namespace voxflow::mocks
