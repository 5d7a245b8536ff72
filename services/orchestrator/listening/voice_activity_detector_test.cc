// WebRTC's detector on real speech (espeak-ng) and on noise.
#include "services/orchestrator/listening/voice_activity_detector.h"

#include <espeak-ng/speak_lib.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"

namespace voxflow::orchestrator {
namespace {

std::vector<int16_t>* speech_samples = nullptr;

int Collect(short* wav, int samples, espeak_EVENT*) {
  if (wav != nullptr) speech_samples->insert(speech_samples->end(), wav, wav + samples);
  return 0;
}

// "what is the weather like today" at espeak-ng's rate (22050 Hz), as PCM16 bytes.
std::string Speech(int* rate) {
  static std::vector<int16_t> samples;
  static int sample_rate = 0;
  if (sample_rate == 0) {
    speech_samples = &samples;
    sample_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, 0);
    espeak_SetSynthCallback(Collect);
    const char text[] = "what is the weather like today";
    espeak_Synth(text, sizeof(text), 0, POS_CHARACTER, 0, espeakCHARS_AUTO, nullptr, nullptr);
    espeak_Synchronize();
  }
  *rate = sample_rate;
  return std::string(reinterpret_cast<const char*>(samples.data()), samples.size() * 2);
}

std::string WhiteNoise(int rate, int ms, double dbfs, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal(0, 32767 * std::pow(10, dbfs / 20));
  std::string pcm;
  for (int i = 0; i < rate * ms / 1000; ++i) {
    const auto v = static_cast<int16_t>(std::clamp(normal(gen), -32767.0, 32767.0));
    pcm.append(reinterpret_cast<const char*>(&v), 2);
  }
  return pcm;
}

// Fraction of 20 ms frames called speech.
double SpeechShare(VoiceActivityDetector& vad, const std::string& pcm, int rate) {
  const size_t frame = rate / 50 * 2;
  int speech = 0, frames = 0;
  for (size_t at = 0; at + frame <= pcm.size(); at += frame, ++frames) {
    speech += vad.IsSpeech(absl::string_view(pcm).substr(at, frame));
  }
  return static_cast<double>(speech) / frames;
}

v1::AudioStreamFormat Pcm16(int rate) { return MakeStreamFormat(v1::PCM16, rate, 1); }

TEST(WebRtcVadTest, SpeechIsSpeechAndSilenceIsNot) {
  int rate = 0;
  const std::string speech = Speech(&rate);
  auto vad = CreateWebRtcVad(Pcm16(rate));  // 22050 Hz: converted to 16 kHz inside.
  ASSERT_TRUE(vad.ok()) << vad.status();
  EXPECT_EQ(SpeechShare(**vad, std::string(rate / 50 * 2 * 50, '\0'), rate), 0.0);
  EXPECT_GT(SpeechShare(**vad, speech, rate), 0.6);
}

TEST(WebRtcVadTest, SilenceAfterSpeechIsNotSpeech) {
  int rate = 0;
  const std::string speech = Speech(&rate);
  auto vad = CreateWebRtcVad(Pcm16(rate));
  ASSERT_TRUE(vad.ok());
  SpeechShare(**vad, speech, rate);
  const std::string silence(rate / 50 * 2 * 10, '\0');
  // The resampler's delay carries the last of the speech into the first frames; then none.
  EXPECT_LE(SpeechShare(**vad, silence, rate), 0.2);
  EXPECT_EQ(SpeechShare(**vad, silence, rate), 0.0);
}

TEST(WebRtcVadTest, QuietNoiseIsMostlyNotSpeech) {
  auto vad = CreateWebRtcVad(Pcm16(16000));
  ASSERT_TRUE(vad.ok());
  EXPECT_LT(SpeechShare(**vad, WhiteNoise(16000, 2000, -40, 7), 16000), 0.2);
}

TEST(WebRtcVadTest, RefusesAFormatItCannotConvert) {
  v1::AudioStreamFormat format = Pcm16(16000);
  format.set_sample_rate(0);
  EXPECT_FALSE(CreateWebRtcVad(format).ok());
}

}  // namespace
}  // namespace voxflow::orchestrator
