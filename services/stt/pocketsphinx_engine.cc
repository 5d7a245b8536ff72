#include "services/stt/pocketsphinx_engine.h"

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace voxflow::stt {
namespace {

constexpr int kSampleRate = 16000;
// Active HMMs per frame for narrowband audio (see DecoderKind): wideband speech stays under it.
constexpr int kNarrowbandMaxHmmPerFrame = 1500;
constexpr int kFramesPerSecond = 100;  // pocketsphinx's feature frame rate.
constexpr int kMsPerFrame = 1000 / kFramesPerSecond;

// Fillers and markers that are not words.
bool IsWord(const char* word) {
  return word != nullptr && word[0] != '<' && word[0] != '[' && word[0] != '+';
}

// "read(2)" (an alternative pronunciation) -> "read".
std::string CleanWord(const char* word) {
  std::string w(word);
  if (const size_t paren = w.find('('); paren != std::string::npos) w.resize(paren);
  return w;
}

class PocketsphinxRecognizer final : public Recognizer {
 public:
  PocketsphinxRecognizer(PocketsphinxEngine* engine, ps_decoder_t* decoder, DecoderKind kind,
                         v1::RecognitionConfig config, ResultSink sink)
      : engine_(engine),
        decoder_(decoder),
        kind_(kind),
        config_(std::move(config)),
        sink_(std::move(sink)) {
    // A new stream: the noise level the front end estimated for an earlier caller is not this
    // caller's (the cepstral mean is restored by Acquire).
    ps_start_stream(decoder_);
    ps_start_utt(decoder_);
  }

  ~PocketsphinxRecognizer() override {
    if (utterance_open_) ps_end_utt(decoder_);
    engine_->Release(kind_, decoder_);
  }

  absl::Status Process(absl::string_view pcm) override {
    if (done_) return absl::OkStatus();  // single_utterance: the stream's result is out.
    const auto started = std::chrono::steady_clock::now();
    std::vector<int16_t> samples(pcm.size() / 2);
    std::memcpy(samples.data(), pcm.data(), samples.size() * 2);
    if (ps_process_raw(decoder_, samples.data(), samples.size(), FALSE, FALSE) < 0) {
      return absl::InternalError("pocketsphinx failed to process audio");
    }
    stream_samples_ += static_cast<int64_t>(samples.size());
    const bool in_speech = ps_get_in_speech(decoder_) != 0;
    if (in_speech && !in_speech_) {
      utterance_speech_ = true;
      SpeechEvent(v1::SpeechEvent::SPEECH_STARTED);
    }
    const bool ended = in_speech_ && !in_speech;
    in_speech_ = in_speech;
    if (ended) return EndUtterance(started);
    if (in_speech && config_.endpointing().max_utterance_ms() > 0 &&
        StreamMs() - utterance_start_ms_ >= config_.endpointing().max_utterance_ms()) {
      return EndUtterance(started);
    }
    if (in_speech && config_.interim_results() &&
        StreamMs() - last_interim_ms_ >= engine_->options().interim_interval_ms) {
      last_interim_ms_ = StreamMs();
      int32 score = 0;
      const char* hyp = ps_get_hyp(decoder_, &score);
      if (hyp != nullptr && *hyp != 0 && last_interim_ != hyp) {
        last_interim_ = hyp;
        v1::RecognizeResponse response;
        v1::Transcript* t = response.mutable_transcript();
        t->set_text(hyp);
        t->set_is_final(false);
        t->set_stability(0.5f);
        t->set_start_ms(utterance_start_ms_);
        t->set_end_ms(StreamMs());
        t->set_provider("pocketsphinx");
        t->set_model("en-us");
        t->set_utterance_index(utterance_index_);
        t->set_latency_ms(ElapsedMs(started));
        sink_(std::move(response));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (done_) return absl::OkStatus();
    const absl::Status status = EndUtterance(std::chrono::steady_clock::now());
    done_ = true;
    return status;
  }

 private:
  int64_t StreamMs() const { return stream_samples_ * 1000 / kSampleRate; }

  static int64_t ElapsedMs(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 since)
        .count();
  }

  void SpeechEvent(v1::SpeechEvent::Type type) {
    v1::RecognizeResponse response;
    response.mutable_speech_event()->set_type(type);
    response.mutable_speech_event()->set_offset_ms(StreamMs());
    sink_(std::move(response));
  }

  absl::Status EndUtterance(std::chrono::steady_clock::time_point started) {
    if (ps_end_utt(decoder_) < 0)
      return absl::InternalError("pocketsphinx failed to end utterance");
    utterance_open_ = false;
    int32 score = 0;
    const char* hyp = ps_get_hyp(decoder_, &score);
    const std::string text = hyp == nullptr ? "" : hyp;
    // An utterance with speech always gets a final result; so does a stream without any, so that
    // a client waiting for one is never left hanging.
    if (!text.empty() || !final_sent_) {
      v1::RecognizeResponse response;
      v1::Transcript* t = response.mutable_transcript();
      t->set_text(text);
      t->set_is_final(true);
      t->set_stability(1.0f);
      const double probability = logmath_exp(ps_get_logmath(decoder_), ps_get_prob(decoder_));
      t->set_confidence(static_cast<float>(std::clamp(probability, 0.0, 1.0)));
      t->set_start_ms(utterance_start_ms_);
      t->set_end_ms(StreamMs());
      for (ps_seg_t* seg = ps_seg_iter(decoder_); seg != nullptr; seg = ps_seg_next(seg)) {
        const char* word = ps_seg_word(seg);
        if (!IsWord(word)) continue;
        int start = 0, end = 0;
        ps_seg_frames(seg, &start, &end);
        if (config_.word_times()) {
          v1::WordInfo* w = t->add_words();
          w->set_word(CleanWord(word));
          w->set_start_ms(utterance_start_ms_ + start * kMsPerFrame);
          w->set_end_ms(utterance_start_ms_ + end * kMsPerFrame);
        }
      }
      t->set_provider("pocketsphinx");
      t->set_model("en-us");
      t->set_utterance_index(utterance_index_);
      t->set_latency_ms(ElapsedMs(started));
      const int64_t speech_ms = t->end_ms() - t->start_ms();
      if (text.empty() || speech_ms >= config_.endpointing().min_speech_ms()) {
        sink_(std::move(response));
        final_sent_ = true;
      }
    }
    if (utterance_speech_) SpeechEvent(v1::SpeechEvent::END_OF_UTTERANCE);
    ++utterance_index_;
    last_interim_.clear();
    if (config_.endpointing().single_utterance() && utterance_speech_) {
      done_ = true;
      return absl::OkStatus();
    }
    ps_start_utt(decoder_);
    utterance_open_ = true;
    utterance_speech_ = false;
    utterance_start_ms_ = StreamMs();
    return absl::OkStatus();
  }

  PocketsphinxEngine* const engine_;
  ps_decoder_t* const decoder_;
  const DecoderKind kind_;
  const v1::RecognitionConfig config_;
  const ResultSink sink_;
  int64_t stream_samples_ = 0;
  int64_t utterance_start_ms_ = 0;
  int64_t last_interim_ms_ = 0;
  std::string last_interim_;
  int utterance_index_ = 0;
  bool utterance_open_ = true;
  bool in_speech_ = false;
  bool utterance_speech_ = false;  // In the current utterance.
  bool final_sent_ = false;
  bool done_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PocketsphinxEngine>> PocketsphinxEngine::Create(
    PocketsphinxOptions options) {
  for (const char* file : {"en-us", "en-us.lm.bin", "cmudict-en-us.dict"}) {
    if (!std::filesystem::exists(std::filesystem::path(options.model_dir) / file)) {
      return absl::UnavailableError(absl::StrCat("pocketsphinx model file ", options.model_dir, "/",
                                                 file, " is missing (package pocketsphinx-en-us)"));
    }
  }
  err_set_logfp(nullptr);  // Its logs are chatty and unstructured; we log per stream ourselves.
  std::unique_ptr<PocketsphinxEngine> engine(new PocketsphinxEngine(std::move(options)));
  // Load one decoder now: a broken model fails at start-up, not on the first stream.
  const DecoderKind kind{engine->options_.default_silence_ms / kMsPerFrame, false};
  absl::StatusOr<ps_decoder_t*> decoder = engine->Acquire(kind);
  if (!decoder.ok()) return decoder.status();
  engine->Release(kind, *decoder);
  return engine;
}

PocketsphinxEngine::~PocketsphinxEngine() {
  for (auto& [frames, decoders] : idle_) {
    for (ps_decoder_t* decoder : decoders) ps_free(decoder);
  }
}

v1::AudioStreamFormat PocketsphinxEngine::NativeFormat(const v1::AudioStreamFormat&) const {
  v1::AudioStreamFormat format;
  format.set_format(v1::PCM16);
  format.set_sample_rate(kSampleRate);
  format.set_channels(1);
  return format;
}

absl::StatusOr<ps_decoder_t*> PocketsphinxEngine::Acquire(DecoderKind kind) {
  static_assert(std::is_same_v<mfcc_t, float>, "initial_cmn_ holds floats");
  std::unique_lock<std::mutex> lock(mu_);
  auto& idle = idle_[kind];
  if (!idle.empty()) {
    ps_decoder_t* decoder = idle.back();
    idle.pop_back();
    --idle_count_;
    // Live CMN adapts to each caller's voice and channel: start every stream from the model's.
    cmn_live_set(ps_get_feat(decoder)->cmn_struct, initial_cmn_[decoder].data());
    return decoder;
  }
  lock.unlock();
  const std::string dir = options_.model_dir;
  const std::string hmm = dir + "/en-us", lm = dir + "/en-us.lm.bin",
                    dict = dir + "/cmudict-en-us.dict", post = std::to_string(kind.silence_frames);
  // Wideband decoders keep pocketsphinx's own setting (the list ends before the cap).
  const std::string max_hmm = std::to_string(kNarrowbandMaxHmmPerFrame);
  cmd_ln_t* config =
      cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-lm", lm.c_str(), "-dict",
                  dict.c_str(), "-logfn", "/dev/null", "-vad_postspeech", post.c_str(),
                  kind.narrowband ? "-maxhmmpf" : nullptr, max_hmm.c_str(), nullptr);
  if (config == nullptr) return absl::InternalError("pocketsphinx rejected its configuration");
  ps_decoder_t* decoder = ps_init(config);
  cmd_ln_free_r(config);  // The decoder holds its own reference.
  if (decoder == nullptr) return absl::UnavailableError("pocketsphinx failed to load its model");
  cmn_t* cmn = ps_get_feat(decoder)->cmn_struct;
  std::vector<float> initial(static_cast<size_t>(cmn->veclen));
  cmn_live_get(cmn, initial.data());
  lock.lock();
  initial_cmn_[decoder] = std::move(initial);
  return decoder;
}

void PocketsphinxEngine::Release(DecoderKind kind, ps_decoder_t* decoder) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_count_ >= options_.max_idle_decoders) {
    initial_cmn_.erase(decoder);
    ps_free(decoder);
    return;
  }
  idle_[kind].push_back(decoder);
  ++idle_count_;
}

DecoderKind PocketsphinxEngine::KindFor(const v1::RecognitionConfig& config) const {
  const int silence_ms = config.endpointing().silence_ms() > 0 ? config.endpointing().silence_ms()
                                                               : options_.default_silence_ms;
  return {std::max(1, silence_ms / kMsPerFrame), config.audio_format().sample_rate() < kSampleRate};
}

absl::StatusOr<std::unique_ptr<Recognizer>> PocketsphinxEngine::Open(
    const v1::RecognitionConfig& config, ResultSink sink, const std::atomic<bool>*) {
  const DecoderKind kind = KindFor(config);
  absl::StatusOr<ps_decoder_t*> decoder = Acquire(kind);
  if (!decoder.ok()) return decoder.status();
  return std::unique_ptr<Recognizer>(
      new PocketsphinxRecognizer(this, *decoder, kind, config, std::move(sink)));
}

}  // namespace voxflow::stt
