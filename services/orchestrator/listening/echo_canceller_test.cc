// The echo canceller on a simulated speakerphone: the reply (espeak-ng speech) comes back into
// the microphone 100-300 ms later, 10 dB down, through a small room, over a quiet line.
#include "services/orchestrator/listening/echo_canceller.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/common/audio_converter.h"
#include "services/orchestrator/listening/voice_activity_detector.h"
#include "services/orchestrator/testing/test_speech.h"

namespace voxflow::orchestrator {
namespace {

constexpr size_t kFrameBytes = 640;  // 20 ms at 16 kHz.

// When frame `f` of a 20 ms stream plays or is captured: the reply and the microphone in step.
absl::Time At(size_t f) {
  return absl::UnixEpoch() + absl::Milliseconds(20 * static_cast<int64_t>(f));
}

// `text` by espeak-ng at 16 kHz, as samples.
std::vector<float> Speak(const std::string& text) {
  const std::string pcm = testing::SpokenPcm16k(text);
  std::vector<float> out(pcm.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int16_t v;
    std::memcpy(&v, pcm.data() + 2 * i, 2);
    out[i] = v;
  }
  return out;
}

std::string Pcm(const std::vector<float>& samples, size_t from, size_t count) {
  std::string out(count * 2, '\0');
  for (size_t i = 0; i < count; ++i) {
    const float s = from + i < samples.size() ? samples[from + i] : 0.0f;
    const auto v = static_cast<int16_t>(std::clamp(s, -32767.0f, 32767.0f));
    std::memcpy(out.data() + 2 * i, &v, 2);
  }
  return out;
}

double Energy(const std::string& pcm) {
  double sum = 0;
  for (size_t i = 0; i + 1 < pcm.size(); i += 2) {
    int16_t v;
    std::memcpy(&v, pcm.data() + i, 2);
    sum += double(v) * v;
  }
  return sum;
}

// The microphone of a speakerphone: the reply `delay_ms` later, `loss_db` down, with one
// reflection 5 ms after it, over noise at -65 dBFS; plus the caller's own voice where given.
// `drift`: the caller's clock against the server's (0.001: 0.1 % fast).
std::vector<float> Microphone(const std::vector<float>& reply, int delay_ms, double loss_db,
                              const std::vector<float>& caller, size_t caller_at,
                              double drift = 0) {
  std::vector<float> mic(reply.size() + 16000, 0.0f);
  const double gain = std::pow(10, -loss_db / 20);
  const double delay = delay_ms * 16.0, reflection = 80;
  auto at = [&](double t) {  // The reply at fractional sample t, linearly interpolated.
    if (t < 0) return 0.0;
    const auto i = static_cast<size_t>(t);
    if (i + 1 >= reply.size()) return 0.0;
    return reply[i] + (t - static_cast<double>(i)) * (reply[i + 1] - reply[i]);
  };
  for (size_t n = 0; n < mic.size(); ++n) {
    const double t = static_cast<double>(n) * (1 + drift) - delay;
    mic[n] += static_cast<float>(gain * (at(t) + 0.5 * at(t - reflection)));
  }
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0, 32767 * 0.00056f);
  for (float& s : mic) s += noise(rng);
  for (size_t i = 0; i < caller.size() && caller_at + i < mic.size(); ++i) {
    mic[caller_at + i] += caller[i];
  }
  return mic;
}

std::vector<float> Reply() {
  std::vector<float> reply;
  for (const char* sentence : {"it is sunny in paris today with a light wind from the west",
                               "tomorrow will be cloudy and a little colder in the morning",
                               "the weekend looks dry with temperatures around twenty degrees",
                               "would you like to hear the forecast for another city"}) {
    std::vector<float> s = Speak(sentence);
    reply.insert(reply.end(), s.begin(), s.end());
    reply.insert(reply.end(), 4000, 0.0f);  // A breath between sentences.
  }
  return reply;
}

TEST(EchoCancellerTest, TakesTheRepliesEchoOutOfTheMicrophone) {
  const std::vector<float> reply = Reply();
  struct Case {
    int delay_ms;
    double drift;
  };
  for (const Case c : {Case{100, 0}, Case{300, 0}, Case{200, 0.001}, Case{200, -0.001}}) {
    const int delay_ms = c.delay_ms;
    SCOPED_TRACE(absl::StrCat(delay_ms, " ms, drift ", c.drift));
    const std::vector<float> mic = Microphone(reply, delay_ms, 10, {}, 0, c.drift);
    auto canceller = EchoCanceller::Create(MakeStreamFormat(v1::PCM16, 16000, 1),
                                           MakeStreamFormat(v1::PCM16, 16000, 1));
    ASSERT_TRUE(canceller.ok()) << canceller.status();
    double in = 0, out = 0;
    const size_t frames = mic.size() / (kFrameBytes / 2);
    for (size_t f = 0; f < frames; ++f) {
      const size_t at = f * kFrameBytes / 2;
      (*canceller)->OnReplyPlayed(Pcm(reply, at, kFrameBytes / 2), At(f));
      const std::string near = Pcm(mic, at, kFrameBytes / 2);
      const std::string cleaned = (*canceller)->Process(near, At(f));
      ASSERT_EQ(cleaned.size(), near.size());
      if (f >= frames / 2) {  // Once it has learnt the echo path.
        in += Energy(near);
        out += Energy(cleaned);
      }
    }
    const double erle = 10 * std::log10(in / std::max(out, 1.0));
    std::printf(
        "delay %d ms, drift %+.1f %%: echo down %.1f dB (ERLE as WebRTC reports it %.1f dB; "
        "delay estimated %d ms)\n",
        delay_ms, 100 * c.drift, erle, (*canceller)->stats().erle_db,
        (*canceller)->stats().delay_ms);
    // Deterministic (no clock): about 36 dB aligned, 17-24 dB with the clocks drifting apart.
    EXPECT_GT(erle, c.drift == 0 ? 25 : 12) << "the echo must go";
  }
}

TEST(EchoCancellerTest, TheCallersVoiceOverTheEchoStays) {
  const std::vector<float> reply = Reply();
  std::vector<float> caller = Speak("what time is it in new york");
  for (float& s : caller) s *= 0.5f;
  const size_t caller_at = reply.size() * 3 / 4;
  const std::vector<float> mic = Microphone(reply, 200, 10, caller, caller_at);
  auto canceller = EchoCanceller::Create(MakeStreamFormat(v1::PCM16, 16000, 1),
                                         MakeStreamFormat(v1::PCM16, 16000, 1));
  ASSERT_TRUE(canceller.ok());
  auto vad = CreateVoiceActivityDetector(MakeStreamFormat(v1::PCM16, 16000, 1),
                                         v1::VOICE_DETECTOR_NOISE_ROBUST,
                                         /*behind_echo_canceller=*/true);
  ASSERT_TRUE(vad.ok());
  int echo_voiced = 0, caller_voiced = 0, caller_frames = 0;
  double caller_in = 0, caller_out = 0;
  const size_t frames = mic.size() / (kFrameBytes / 2);
  for (size_t f = 0; f < frames; ++f) {
    const size_t at = f * kFrameBytes / 2;
    (*canceller)->OnReplyPlayed(Pcm(reply, at, kFrameBytes / 2), At(f));
    const std::string cleaned = (*canceller)->Process(Pcm(mic, at, kFrameBytes / 2), At(f));
    const bool voiced = (*vad)->IsSpeech(cleaned);
    const bool talking = at >= caller_at && at < caller_at + caller.size();
    if (talking) {
      ++caller_frames;
      caller_voiced += voiced;
      caller_in += Energy(Pcm(caller, at - caller_at, kFrameBytes / 2));
      caller_out += Energy(cleaned);
    } else if (at > reply.size() / 4) {
      echo_voiced += voiced;
    }
  }
  std::printf("echo frames heard as voice: %d; caller frames voiced %d of %d, level %.1f dB\n",
              echo_voiced, caller_voiced, caller_frames,
              10 * std::log10(caller_out / std::max(caller_in, 1.0)));
  EXPECT_LE(echo_voiced, 10) << "the echo alone is not the caller";
  EXPECT_GT(caller_voiced, caller_frames / 2) << "the caller over the echo is heard";
}

// From the reply's first word, before the canceller has learnt the echo's path: what comes back
// into the microphone (10 dB down, and a reflection 6 dB under that) is not voice: the residual
// echo suppressor takes it.
TEST(EchoCancellerTest, TheEchoIsNotVoiceEvenBeforeTheCancellerHasLearntIt) {
  const std::vector<float> reply = Reply();
  for (const int delay_ms : {60, 200, 300}) {
    SCOPED_TRACE(absl::StrCat(delay_ms, " ms"));
    const std::vector<float> mic = Microphone(reply, delay_ms, 10, {}, 0);
    auto canceller = EchoCanceller::Create(MakeStreamFormat(v1::PCM16, 16000, 1),
                                           MakeStreamFormat(v1::PCM16, 16000, 1));
    ASSERT_TRUE(canceller.ok());
    auto vad = CreateVoiceActivityDetector(MakeStreamFormat(v1::PCM16, 16000, 1),
                                           v1::VOICE_DETECTOR_NOISE_ROBUST,
                                           /*behind_echo_canceller=*/true);
    ASSERT_TRUE(vad.ok());
    int voiced = 0, voiced_first_2s = 0;
    const size_t frames = mic.size() / (kFrameBytes / 2);
    for (size_t f = 0; f < frames; ++f) {
      const size_t at = f * kFrameBytes / 2;
      (*canceller)->OnReplyPlayed(Pcm(reply, at, kFrameBytes / 2), At(f));
      const bool v = (*vad)->IsSpeech((*canceller)->Process(Pcm(mic, at, kFrameBytes / 2), At(f)));
      voiced += v;
      if (f < 100) voiced_first_2s += v;
    }
    std::printf(
        "delay %d ms, echo 10 dB down (and a reflection): %d of %zu frames voiced (%d in the first "
        "2 s)\n",
        delay_ms, voiced, frames, voiced_first_2s);
    EXPECT_LE(voiced, 3);
  }
}

// The reply at 8 kHz, as a phone line carries it.
std::vector<float> NarrowReply() {
  const std::vector<float> wide = Reply();
  std::vector<float> reply(wide.size() / 2);
  for (size_t i = 0; i < reply.size(); ++i) reply[i] = (wide[2 * i] + wide[2 * i + 1]) / 2;
  return reply;
}

// A phone call through `canceller`: `reply` goes out and `mic` comes back as μ-law at 8 kHz, 20 ms
// at a time (`after_frame` is told how many samples have been processed). Returns the echo taken
// off over the second half, in dB.
double PhoneCallErleDb(EchoCanceller& canceller, const std::vector<float>& reply,
                       const std::vector<float>& mic,
                       const std::function<void(size_t)>& after_frame = nullptr) {
  const v1::AudioStreamFormat mulaw = MakeStreamFormat(v1::MULAW, 8000, 1);
  auto encode = *AudioConverter::Create(MakeStreamFormat(v1::PCM16, 8000, 1), mulaw);
  auto decode = *AudioConverter::Create(mulaw, MakeStreamFormat(v1::PCM16, 8000, 1));
  double in = 0, out = 0;
  const size_t frame = 160, frames = mic.size() / frame;
  for (size_t f = 0; f < frames; ++f) {
    canceller.OnReplyPlayed(*encode->Convert(Pcm(reply, f * frame, frame)), At(f));
    const std::string near = *encode->Convert(Pcm(mic, f * frame, frame));
    const std::string cleaned = canceller.Process(near, At(f));
    EXPECT_EQ(cleaned.size(), near.size());
    if (after_frame) after_frame((f + 1) * frame);
    if (f >= frames / 2) {
      in += Energy(*decode->Convert(near));
      out += Energy(*decode->Convert(cleaned));
    }
  }
  return 10 * std::log10(in / std::max(out, 1.0));
}

// A phone line: the reply sent as μ-law at 8 kHz, back in the caller's μ-law 150 ms later.
TEST(EchoCancellerTest, CleansAPhoneLinesMuLawAudioSampleForSample) {
  const std::vector<float> reply = NarrowReply();
  // Microphone() counts in 16 kHz samples: its 75 ms is 1,200 samples, 150 ms at 8 kHz.
  const std::vector<float> mic = Microphone(reply, 75, 10, {}, 0);
  const v1::AudioStreamFormat mulaw = MakeStreamFormat(v1::MULAW, 8000, 1);
  auto canceller = EchoCanceller::Create(mulaw, mulaw);
  ASSERT_TRUE(canceller.ok()) << canceller.status();
  const double erle = PhoneCallErleDb(**canceller, reply, mic);
  std::printf("mu-law at 8 kHz, 150 ms: echo down %.1f dB, delay estimated %d ms\n", erle,
              (*canceller)->stats().delay_ms);
  EXPECT_GT(erle, 15);
}

// AUTO on a phone line cancels from the start; a caller whose line sends no echo back (a
// handset) has it stop once a second of reply has found none, and an echo that turns up later
// (the caller switches to the speakerphone, 4 s in) engages it again.
TEST(EchoCancellerTest, OnAPhoneLineAutoCancelsOnlyWhileTheEchoMayBeThere) {
  const std::vector<float> reply = NarrowReply();
  std::vector<float> mic = Microphone(reply, 75, 10, {}, 0);
  const std::vector<float> handset =
      Microphone(std::vector<float>(reply.size(), 0.0f), 75, 10, {}, 0);
  const size_t speakerphone_at = 4 * 8000;
  std::copy(handset.begin(), handset.begin() + speakerphone_at, mic.begin());
  const v1::AudioStreamFormat mulaw = MakeStreamFormat(v1::MULAW, 8000, 1);
  auto canceller = EchoCanceller::Create(mulaw, mulaw, EchoCanceller::Engage::kOnEcho);
  ASSERT_TRUE(canceller.ok()) << canceller.status();
  EXPECT_TRUE((*canceller)->stats().engaged) << "a phone line: from the start";
  const double erle = PhoneCallErleDb(**canceller, reply, mic, [&](size_t processed) {
    if (processed != speakerphone_at) return;
    EXPECT_FALSE((*canceller)->stats().engaged) << "no echo in the reply's first 4 s";
    EXPECT_TRUE((*canceller)->stats().no_echo);
  });
  EXPECT_TRUE((*canceller)->stats().echo_found);
  EXPECT_TRUE((*canceller)->stats().engaged) << "the speakerphone's echo engages it again";
  std::printf("mu-law, echo from 4 s on: echo down %.1f dB over the second half\n", erle);
  EXPECT_GT(erle, 15);
}

TEST(EchoCancellerTest, RefusesANearFormatItCannotProcess) {
  EXPECT_FALSE(EchoCanceller::Create(MakeStreamFormat(v1::PCM16, 44100, 1),
                                     MakeStreamFormat(v1::PCM16, 16000, 1))
                   .ok());
  EXPECT_FALSE(EchoCanceller::Create(MakeStreamFormat(v1::PCM16, 16000, 2),
                                     MakeStreamFormat(v1::PCM16, 16000, 1))
                   .ok());
  EXPECT_TRUE(EchoCanceller::Create(MakeStreamFormat(v1::PCM16, 8000, 1),
                                    MakeStreamFormat(v1::PCM16, 24000, 1))
                  .ok());
  EXPECT_TRUE(EchoCanceller::Create(MakeStreamFormat(v1::MULAW, 8000, 1),
                                    MakeStreamFormat(v1::MULAW, 8000, 1))
                  .ok());
}

}  // namespace
}  // namespace voxflow::orchestrator
