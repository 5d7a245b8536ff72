// PocketsphinxEngine: offline speech recognition on CMU pocketsphinx (Debian's libpocketsphinx
// with the pocketsphinx-en-us model). Its voice activity detector drives speech events and
// endpointing; interim hypotheses come while speech streams, a final result at end of utterance
// or end of input. Decoders are costly to create (model loading), so they are pooled, keyed by
// their endpointing setting, and reused across streams.
#ifndef VOXFLOW_SERVICES_STT_POCKETSPHINX_ENGINE_H_
#define VOXFLOW_SERVICES_STT_POCKETSPHINX_ENGINE_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "services/stt/stt_engine.h"

struct ps_decoder_s;

namespace voxflow::stt {

struct PocketsphinxOptions {
  std::string model_dir = "/usr/share/pocketsphinx/model/en-us";
  int default_silence_ms = 500;   // End of utterance after this much trailing silence.
  int interim_interval_ms = 250;  // At most one interim hypothesis per this much audio.
  size_t max_idle_decoders = 8;   // Kept for reuse; more are freed.
};

// Decoders differ by their end-of-utterance silence, and by whether they decode narrowband
// (telephony, < 16 kHz) audio upsampled to the model's 16 kHz. The model hears nothing above
// 4 kHz in such audio, its scores flatten and its beam keeps several times the hypotheses active:
// narrowband decoders cap the active HMMs per frame so that they run at the real-time factor of
// wideband audio (bench/telephony_bench), recognising as much as the uncapped search.
struct DecoderKind {
  int silence_frames = 0;
  bool narrowband = false;
  bool operator<(const DecoderKind& other) const {
    return std::tie(silence_frames, narrowband) < std::tie(other.silence_frames, other.narrowband);
  }
};

class PocketsphinxEngine final : public SttEngine {
 public:
  // Checks the model and loads a first decoder. UNAVAILABLE if the model is missing.
  static absl::StatusOr<std::unique_ptr<PocketsphinxEngine>> Create(
      PocketsphinxOptions options = {});
  ~PocketsphinxEngine() override;

  std::string name() const override { return "pocketsphinx"; }
  std::vector<std::string> Languages() const override { return {"en-US"}; }
  v1::AudioStreamFormat NativeFormat(const v1::AudioStreamFormat& input) const override;
  absl::StatusOr<std::unique_ptr<Recognizer>> Open(const v1::RecognitionConfig& config,
                                                   ResultSink sink,
                                                   const std::atomic<bool>* cancelled) override;

  // The decoder a stream with `config` gets.
  DecoderKind KindFor(const v1::RecognitionConfig& config) const;

  // Pool access for recognizers.
  absl::StatusOr<ps_decoder_s*> Acquire(DecoderKind kind);
  void Release(DecoderKind kind, ps_decoder_s* decoder);
  const PocketsphinxOptions& options() const { return options_; }

 private:
  explicit PocketsphinxEngine(PocketsphinxOptions options) : options_(std::move(options)) {}

  const PocketsphinxOptions options_;
  std::mutex mu_;
  std::map<DecoderKind, std::vector<ps_decoder_s*>> idle_;
  // Each decoder's cepstral mean as loaded: restored for every stream, so that no stream's
  // result depends on what an earlier caller said to the same decoder.
  std::map<ps_decoder_s*, std::vector<float>> initial_cmn_;
  size_t idle_count_ = 0;
};

}  // namespace voxflow::stt

#endif  // VOXFLOW_SERVICES_STT_POCKETSPHINX_ENGINE_H_
