// telephony_bench: 8 kHz telephony input (μ-law, A-law, PCM16) against 16 kHz PCM16 through the
// STT session with pocketsphinx, in-process, one stream, one core. The same speech (espeak-ng
// speaking a paragraph) goes in each way in 20 ms chunks; the reference for accuracy is the
// 16 kHz model on that telephony audio upsampled offline in one piece. Reports the real-time
// factor of each, relative to 16 kHz PCM16 in the same run, and the words each got right.
//
//   bazel run -c opt //bench:telephony_bench
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "services/common/audio_chunk.h"
#include "services/common/audio_converter.h"
#include "services/stt/pocketsphinx_engine.h"
#include "services/stt/stt_session.h"
#include "services/tts/espeak_engine.h"
#include "services/tts/tts_session.h"
#include "spdlog/spdlog.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace voxflow;  // NOLINT: a benchmark.

constexpr char kParagraph[] =
    "The weather is nice today. We could walk to the park after lunch. "
    "Please call me tomorrow morning if the train is late. "
    "Hello world, this is a test of the speech services.";

std::string Speak() {
  auto espeak = *tts::EspeakEngine::Create();
  v1::SynthesisConfig config;
  config.set_language("en-US");
  *config.mutable_output_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  std::string audio;
  auto session = *tts::TtsSession::Create(
      espeak.get(), config, [&](v1::SynthesizeResponse r) { audio += r.audio().data(); });
  v1::TextPiece piece;
  piece.set_text(kParagraph);
  (void)session->PushText(piece);
  (void)session->Finish();
  return audio;
}

std::string Convert(const std::string& audio, const v1::AudioStreamFormat& from,
                    const v1::AudioStreamFormat& to) {
  auto converter = *AudioConverter::Create(from, to);
  std::string out = *converter->Convert(audio);
  out += converter->Flush();
  return out;
}

// Words of `heard` found in order in the reference (a longest common subsequence), over the
// reference's word count.
double WordsRight(const std::string& heard) {
  auto words = [](const std::string& text) {
    std::string clean;
    for (char c : text) clean.push_back(absl::ascii_isalpha(c) ? absl::ascii_tolower(c) : ' ');
    return std::vector<std::string>(absl::StrSplit(clean, ' ', absl::SkipEmpty()));
  };
  const std::vector<std::string> ref = words(kParagraph);
  const std::vector<std::string> hyp = words(heard);
  std::vector<std::vector<int>> lcs(ref.size() + 1, std::vector<int>(hyp.size() + 1, 0));
  for (size_t i = 1; i <= ref.size(); ++i) {
    for (size_t j = 1; j <= hyp.size(); ++j) {
      lcs[i][j] =
          ref[i - 1] == hyp[j - 1] ? lcs[i - 1][j - 1] + 1 : std::max(lcs[i - 1][j], lcs[i][j - 1]);
    }
  }
  return static_cast<double>(lcs[ref.size()][hyp.size()]) / static_cast<double>(ref.size());
}

struct Run {
  double seconds = 0;
  std::string heard;
};

Run Recognize(stt::SttEngine* engine, const std::string& audio,
              const v1::AudioStreamFormat& format) {
  v1::RecognitionConfig config;
  config.set_language("en-US");
  *config.mutable_audio_format() = format;
  Run run;
  auto session = *stt::SttSession::Create(engine, config, [&](v1::RecognizeResponse r) {
    if (r.has_transcript() && r.transcript().is_final()) run.heard += r.transcript().text() + " ";
  });
  const size_t chunk = *BytesForDuration(20, format);
  v1::AudioChunk piece;
  piece.set_format(format.format());
  piece.set_sample_rate(format.sample_rate());
  piece.set_channels(format.channels());
  const auto start = Clock::now();
  for (size_t at = 0; at < audio.size(); at += chunk) {
    piece.set_data(audio.substr(at, chunk));
    (void)session->PushAudio(piece);
  }
  (void)session->FinishAndWait();
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::warn);
  const v1::AudioStreamFormat pcm16k = MakeStreamFormat(v1::PCM16, 16000, 1);
  const std::string speech = Speak();
  const double audio_seconds = static_cast<double>(speech.size()) / 2 / 16000;
  auto engine = *stt::PocketsphinxEngine::Create();

  struct Case {
    const char* name;
    v1::AudioStreamFormat format;
  };
  const std::vector<Case> cases = {
      {"PCM16 16 kHz", pcm16k},
      {"μ-law 8 kHz", MakeStreamFormat(v1::MULAW, 8000, 1)},
      {"A-law 8 kHz", MakeStreamFormat(v1::ALAW, 8000, 1)},
      {"PCM16 8 kHz", MakeStreamFormat(v1::PCM16, 8000, 1)},
  };
  std::printf("%.2f s of espeak-ng speech, 20 ms chunks, pocketsphinx en-us\n\n", audio_seconds);
  std::printf(
      "| input | processing s | real-time factor | vs PCM16 16 kHz | words right | "
      "16 kHz model on it upsampled at once |\n|---|---|---|---|---|---|\n");
  double baseline = 0;
  for (const Case& c : cases) {
    const std::string input = c.format.sample_rate() == 16000 && c.format.format() == v1::PCM16
                                  ? speech
                                  : Convert(speech, pcm16k, c.format);
    (void)Recognize(engine.get(), input, c.format);  // Warm-up.
    const Run run = Recognize(engine.get(), input, c.format);
    if (baseline == 0) baseline = run.seconds;
    // The reference: the same telephony audio, upsampled in one piece, as 16 kHz PCM16.
    const Run upsampled = Recognize(engine.get(), Convert(input, c.format, pcm16k), pcm16k);
    std::printf("| %s | %.3f | %.3f | %.2fx | %.0f %% | %.0f %% |\n", c.name, run.seconds,
                run.seconds / audio_seconds, run.seconds / baseline, 100 * WordsRight(run.heard),
                100 * WordsRight(upsampled.heard));
    std::fprintf(stderr, "%s heard: %s\n", c.name, run.heard.c_str());
  }
  return 0;
}
