// WebRTC's detector on real speech (espeak-ng) and on noise.
#include "services/orchestrator/listening/voice_activity_detector.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/orchestrator/testing/test_speech.h"

namespace voxflow::orchestrator {
namespace {

// "what is the weather like today" at espeak-ng's rate (22050 Hz), as PCM16 bytes.
std::string Speech(int* rate) {
  static const std::vector<int16_t> samples =
      testing::Spoken("what is the weather like today", rate);
  static const int sample_rate = *rate;
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

// `pcm` (PCM16) scaled to `dbfs` RMS.
std::string AtLevel(const std::string& pcm, double dbfs) {
  std::vector<int16_t> samples(pcm.size() / 2);
  std::memcpy(samples.data(), pcm.data(), pcm.size());
  double sum = 0;
  for (int16_t s : samples) sum += double(s) * s;
  const double rms = std::sqrt(sum / std::max<size_t>(samples.size(), 1));
  const double gain = 32767 * std::pow(10, dbfs / 20) / std::max(rms, 1.0);
  for (int16_t& s : samples) s = static_cast<int16_t>(std::clamp(s * gain, -32767.0, 32767.0));
  return std::string(reinterpret_cast<const char*>(samples.data()), samples.size() * 2);
}

// Brown noise (a car's rumble) at `dbfs`, 16 kHz.
std::string BrownNoise(int ms, double dbfs, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal(0, 1);
  std::vector<int16_t> samples(16 * ms);
  double y = 0;
  for (int16_t& s : samples) {
    y = 0.995 * y + normal(gen);
    s = static_cast<int16_t>(std::clamp(y * 300, -32767.0, 32767.0));
  }
  return AtLevel(std::string(reinterpret_cast<const char*>(samples.data()), samples.size() * 2),
                 dbfs);
}

// `noise` added to `speech` (both PCM16), from `offset` bytes into `noise`.
std::string Mix(const std::string& speech, const std::string& noise, size_t offset) {
  std::string out = speech;
  for (size_t i = 0; i + 1 < out.size() && offset + i + 1 < noise.size(); i += 2) {
    int16_t a, b;
    std::memcpy(&a, out.data() + i, 2);
    std::memcpy(&b, noise.data() + offset + i, 2);
    const auto v = static_cast<int16_t>(std::clamp(a + b, -32767, 32767));
    std::memcpy(out.data() + i, &v, 2);
  }
  return out;
}

std::string Speech16k() { return testing::SpokenPcm16k("what is the weather like today"); }

std::unique_ptr<VoiceActivityDetector> Robust() {
  auto vad = CreateVoiceActivityDetector(Pcm16(16000), v1::VOICE_DETECTOR_NOISE_ROBUST);
  EXPECT_TRUE(vad.ok()) << vad.status();
  return vad.ok() ? *std::move(vad) : nullptr;
}

TEST(NoiseRobustVadTest, SpeechIsSpeechAndSilenceIsNot) {
  auto vad = Robust();
  ASSERT_NE(vad, nullptr);
  EXPECT_EQ(SpeechShare(*vad, std::string(640 * 50, '\0'), 16000), 0.0);
  EXPECT_GT(SpeechShare(*vad, AtLevel(Speech16k(), -20), 16000), 0.5);
  SpeechShare(*vad, std::string(640 * 10, '\0'), 16000);
  EXPECT_EQ(SpeechShare(*vad, std::string(640 * 50, '\0'), 16000), 0.0);
}

TEST(NoiseRobustVadTest, BurstsOfNoiseAreNotSpeechWhereWebRtcsDetectorHearsIt) {
  // 400 ms of loud white or brown noise over a quiet line: what interrupted replies.
  for (const std::string& burst : {WhiteNoise(16000, 400, -25, 3), BrownNoise(400, -25, 4)}) {
    const std::string quiet = WhiteNoise(16000, 1000, -70, 5);
    auto webrtc = CreateWebRtcVad(Pcm16(16000));
    ASSERT_TRUE(webrtc.ok());
    SpeechShare(**webrtc, quiet, 16000);
    EXPECT_GT(SpeechShare(**webrtc, burst, 16000), 0.5);  // What the robust detector is for.
    auto vad = Robust();
    ASSERT_NE(vad, nullptr);
    SpeechShare(*vad, quiet, 16000);
    EXPECT_LE(SpeechShare(*vad, burst, 16000), 0.1);
  }
}

TEST(NoiseRobustVadTest, SpeechIsHeardOverSteadyNoiseAndTheNoiseAloneIsNot) {
  const std::string noise = BrownNoise(8000, -25, 9);
  auto vad = Robust();
  ASSERT_NE(vad, nullptr);
  const size_t second = 32000;
  // The first half second teaches it the floor; then the noise is not speech.
  SpeechShare(*vad, noise.substr(0, second / 2), 16000);
  EXPECT_LE(SpeechShare(*vad, noise.substr(second / 2, 3 * second / 2), 16000), 0.02);
  const std::string speech = AtLevel(Speech16k(), -20);
  EXPECT_GT(SpeechShare(*vad, Mix(speech, noise, 2 * second), 16000), 0.3);
  // The noise after the speech: speech only for the hangover of the last vowel (150 ms).
  EXPECT_LE(SpeechShare(*vad, noise.substr(6 * second, 2 * second), 16000), 0.1);
}

TEST(NoiseRobustVadTest, AMuchQuieterVoiceAfterTheCallersIsNotTheCaller) {
  auto vad = Robust();
  ASSERT_NE(vad, nullptr);
  const std::string speech = Speech16k();
  EXPECT_GT(SpeechShare(*vad, AtLevel(speech, -20), 16000), 0.5);
  // A voice in the background, 20 dB down: babble, a television.
  EXPECT_LE(SpeechShare(*vad, AtLevel(speech, -40), 16000), 0.15);
  // The same quiet voice on a fresh line (no caller heard yet) is speech.
  auto fresh = Robust();
  ASSERT_NE(fresh, nullptr);
  EXPECT_GT(SpeechShare(*fresh, AtLevel(speech, -40), 16000), 0.6);
}

TEST(VoiceActivityDetectorTest, MakesTheKindAskedFor) {
  EXPECT_TRUE(CreateVoiceActivityDetector(Pcm16(16000), v1::VOICE_DETECTOR_WEBRTC).ok());
  EXPECT_TRUE(CreateVoiceActivityDetector(Pcm16(8000), v1::VOICE_DETECTOR_NOISE_ROBUST).ok());
  EXPECT_FALSE(CreateVoiceActivityDetector(Pcm16(16000), v1::VOICE_DETECTOR_UNSPECIFIED).ok());
}

}  // namespace
}  // namespace voxflow::orchestrator
