// The listening benchmark's echo part: a caller on a speakerphone. The reply (espeak-ng speech)
// comes back into the caller's microphone delayed 40-400 ms, its clock drifting ±0.1 %, 0-20 dB
// down, through a small room; on a phone line also band-limited to 300-3400 Hz and μ-law coded at
// 8 kHz both ways. The session's listening path hears it in process, faster than real time: the
// echo canceller (or none, today's baseline), the noise-robust detector, the session's endpointing
// and barge-in rule. Seeded, so runs repeat exactly.
//
// - silent: the caller says nothing over two replies: self-interruptions (barge-in confirmed on
//   the echo alone), reply pauses, echo return loss enhancement after the first reply.
// - double talk: over a third reply the caller asks a question (-20 dBFS): is it caught (the reply
//   pauses) within 400 ms of its onset, and confirmed as an interruption.
// - cpu: the canceller's time per second of audio, against the detector's.
//
//   bazel run -c opt //bench/listening:echo_bench
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "services/common/audio_chunk.h"
#include "services/common/audio_converter.h"
#include "services/orchestrator/listening/barge_in_detector.h"
#include "services/orchestrator/listening/echo_canceller.h"
#include "services/orchestrator/listening/utterance_segmenter.h"
#include "services/orchestrator/listening/voice_activity_detector.h"
#include "tests/util/fixtures.h"
#include "tests/util/room_audio.h"

ABSL_FLAG(uint32_t, seed, 1, "Seed of the rooms and the line noise.");
ABSL_FLAG(bool, details, false, "Print every case, not only the summary.");
ABSL_FLAG(bool, trace, false, "Print the frames around the caller's onset in every case.");

namespace voxflow {
namespace {

using orchestrator::BargeInDetector;
using orchestrator::BargeInSettings;
using orchestrator::EchoCanceller;
using orchestrator::EndpointingSettings;
using orchestrator::UtteranceSegmenter;
using orchestrator::VoiceActivityDetector;
using testing::Samples;

constexpr int kFrameMs = 20;
constexpr double kNoEcho = 1000;  // An echo loss that is no echo.

enum class Line { kWideband, kPhone };

struct Case {
  Line line;
  int delay_ms;
  double loss_db;
  double drift;  // The caller's clock against the server's (0.001: 0.1 % fast).
  testing::Noise noise = testing::Noise::kPink;  // The room's, at noise_dbfs.
  double noise_dbfs = -60;
};

// What happened to one reply.
struct ReplyOutcome {
  int pauses = 0, interrupts = 0;
  // Double talk: the caller's onset -> the reply paused (-1: never), and interrupted.
  double caught_after_ms = -1;
  bool interrupted = false;
};

struct CaseResult {
  std::vector<ReplyOutcome> silent;  // The replies the caller was silent over.
  ReplyOutcome double_talk;
  double erle_db = 0;                        // Echo energy in / out, over the second silent reply.
  double canceller_ms = 0, detector_ms = 0;  // CPU.
  EchoCanceller::Stats canceller;            // What the canceller reports at the end.
  double audio_s = 0;
};

int Rate(Line line) { return line == Line::kPhone ? 8000 : 16000; }

// 16 kHz speech to `rate` (8 kHz: pairs averaged, a crude low-pass is enough here).
Samples AtRate(const Samples& wide, int rate) {
  if (rate == 16000) return wide;
  Samples out(wide.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = 0.5f * (wide[2 * i] + wide[2 * i + 1]);
  return out;
}

// A second-order section (RBJ's cookbook), for the phone line's band.
struct Biquad {
  double b0, b1, b2, a1, a2, x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  static Biquad Make(bool high, double hz, int rate) {
    const double w = 2 * M_PI * hz / rate, alpha = std::sin(w) / (2 * M_SQRT1_2);
    const double c = std::cos(w), a0 = 1 + alpha;
    Biquad f{};
    f.b0 = (high ? (1 + c) / 2 : (1 - c) / 2) / a0;
    f.b1 = (high ? -(1 + c) : (1 - c)) / a0;
    f.b2 = f.b0;
    f.a1 = -2 * c / a0;
    f.a2 = (1 - alpha) / a0;
    return f;
  }
  float Run(float x) {
    const double y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
    x2 = x1, x1 = x, y2 = y1, y1 = y;
    return static_cast<float>(y);
  }
};

// The room between the caller's loudspeaker and microphone: the direct sound, a few early
// reflections and a decaying diffuse tail to 150 ms (sparse: 40 taps), energy normalized to one.
struct Tap {
  size_t at;
  float gain;
};
std::vector<Tap> RoomResponse(int rate, std::mt19937& rng) {
  std::vector<Tap> taps = {{0, 1.0f}};
  std::uniform_real_distribution<double> unit(0, 1);
  auto sign = [&] { return unit(rng) < 0.5 ? -1.0 : 1.0; };
  for (const auto& [ms, gain] : {std::pair{3.0, 0.5}, {7.0, 0.35}, {13.0, 0.25}, {21.0, 0.15}}) {
    taps.push_back({static_cast<size_t>(ms * rate / 1000), static_cast<float>(gain * sign())});
  }
  for (int i = 0; i < 40; ++i) {
    const double ms = 25 + 125 * unit(rng);
    taps.push_back({static_cast<size_t>(ms * rate / 1000),
                    static_cast<float>(0.2 * std::exp(-ms / 40) * sign())});
  }
  double energy = 0;
  for (const Tap& t : taps) energy += double(t.gain) * t.gain;
  for (Tap& t : taps) t.gain = static_cast<float>(t.gain / std::sqrt(energy));
  return taps;
}

std::string Encode(AudioConverter* encoder, const Samples& samples) {
  const std::string pcm = testing::ToPcm16(samples);
  return encoder == nullptr ? pcm : *encoder->Convert(pcm);
}

Samples Decode(AudioConverter* decoder, const std::string& audio) {
  return testing::FromPcm16(decoder == nullptr ? audio : *decoder->Convert(audio));
}

double Energy(const Samples& s, size_t from, size_t to) {
  double e = 0;
  for (size_t i = from; i < to && i < s.size(); ++i) e += double(s[i]) * s[i];
  return e;
}

// The first sample of the first 10 ms block within 30 dB of the clip's loudest block.
size_t VoiceOnset(const Samples& voice, size_t per_ms) {
  const size_t block = 10 * per_ms;
  std::vector<double> energy;
  for (size_t at = 0; at + block <= voice.size(); at += block) {
    energy.push_back(Energy(voice, at, at + block));
  }
  const double loudest = *std::max_element(energy.begin(), energy.end());
  for (size_t i = 0; i < energy.size(); ++i) {
    if (energy[i] >= loudest / 1000) return i * block;
  }
  return 0;
}

// One session: three replies 1.5 s apart; over the third the caller asks a question.
// The modes compared: no canceller (today), and SessionConfig.echo_cancellation's AUTO and ON.
enum class Mode { kOff, kAuto, kOn };

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kOff:
      return "OFF (today's baseline)";
    case Mode::kAuto:
      return "AUTO";
    case Mode::kOn:
      return "ON";
  }
  return "";
}

CaseResult RunCase(const Case& c, Mode mode, const std::vector<Samples>& replies,
                   const std::vector<Samples>& voices, const Samples& question, uint32_t seed) {
  const int rate = Rate(c.line);
  const size_t per_ms = static_cast<size_t>(rate / 1000), frame = per_ms * kFrameMs;
  const v1::AudioStreamFormat format = c.line == Line::kPhone
                                           ? MakeStreamFormat(v1::MULAW, 8000, 1)
                                           : MakeStreamFormat(v1::PCM16, 16000, 1);
  const v1::AudioStreamFormat pcm = MakeStreamFormat(v1::PCM16, rate, 1);
  std::unique_ptr<AudioConverter> encoder, decoder;
  if (c.line == Line::kPhone) {
    encoder = *AudioConverter::Create(pcm, format);
    decoder = *AudioConverter::Create(format, pcm);
  }
  // The server's timeline: reply i plays over [starts[i], ends[i]).
  const size_t gap = 1500 * per_ms;
  std::vector<size_t> starts, ends;
  Samples sent(1000 * per_ms, 0.0f);
  for (const Samples& reply : replies) {
    const Samples r = testing::AtLevel(AtRate(reply, rate), -16);
    starts.push_back(sent.size());
    sent.insert(sent.end(), r.begin(), r.end());
    ends.push_back(sent.size());
    sent.insert(sent.end(), gap, 0.0f);
  }
  // What the caller's loudspeaker plays: the reply as sent, through the line's codec.
  const std::string sent_coded = Encode(encoder.get(), sent);
  const Samples played = Decode(decoder.get(), sent_coded);
  // The microphone: the echo (delayed, drifting, through the room, down by the loss), the room's
  // noise (-60 dBFS), and the caller over the third reply.
  std::mt19937 rng(seed);
  const std::vector<Tap> room = RoomResponse(rate, rng);
  Samples echo(played.size(), 0.0f);
  const double delay = c.delay_ms * per_ms * 1.0, gain = std::pow(10, -c.loss_db / 20);
  auto at = [&](double t) -> double {
    if (t < 0) return 0;
    const auto i = static_cast<size_t>(t);
    if (i + 1 >= played.size()) return 0;
    return played[i] + (t - static_cast<double>(i)) * (played[i + 1] - played[i]);
  };
  Samples direct(played.size());
  for (size_t n = 0; n < direct.size(); ++n) {
    direct[n] = static_cast<float>(at(static_cast<double>(n) * (1 + c.drift) - delay));
  }
  for (size_t n = 0; n < echo.size(); ++n) {
    double sum = 0;
    for (const Tap& tap : room) {
      if (tap.at <= n) sum += tap.gain * direct[n - tap.at];
    }
    echo[n] = static_cast<float>(gain * sum);
  }
  const Samples mic_noise =
      testing::MakeNoise(c.noise, echo.size() * 16000 / rate, c.noise_dbfs, seed + 7, voices);
  Samples mic = AtRate(mic_noise, rate);
  for (size_t n = 0; n < mic.size(); ++n) mic[n] += echo[n];
  const Samples voice = testing::AtLevel(AtRate(question, rate), -20);
  testing::MixInto(mic, voice, starts[2] + 1200 * per_ms);
  // The caller's onset: where their voice begins in the clip (espeak-ng leads with silence).
  const size_t caller_at = starts[2] + 1200 * per_ms + VoiceOnset(voice, per_ms);
  if (c.line == Line::kPhone) {
    Biquad high = Biquad::Make(true, 300, rate), low = Biquad::Make(false, 3400, rate);
    for (float& v : mic) v = low.Run(high.Run(v));
  }
  const std::string mic_coded = Encode(encoder.get(), mic);
  const size_t bytes_per_sample = c.line == Line::kPhone ? 1 : 2;

  std::unique_ptr<EchoCanceller> canceller;
  if (mode != Mode::kOff) {
    canceller = *EchoCanceller::Create(
        format, format,
        mode == Mode::kOn ? EchoCanceller::Engage::kAlways : EchoCanceller::Engage::kOnEcho);
  }
  auto vad = *orchestrator::CreateVoiceActivityDetector(format, v1::VOICE_DETECTOR_NOISE_ROBUST,
                                                        canceller != nullptr);
  EndpointingSettings endpointing;
  UtteranceSegmenter segmenter(endpointing);
  BargeInDetector barge_in((BargeInSettings()));

  CaseResult result;
  result.silent.resize(2);
  std::string cleaned_all;
  using Clock = std::chrono::steady_clock;
  Clock::duration canceller_time{}, detector_time{};
  const size_t frames = mic.size() / frame;
  for (size_t f = 0; f < frames; ++f) {
    const size_t from = f * frame;
    const absl::Time t = absl::UnixEpoch() + absl::Milliseconds(kFrameMs * static_cast<int64_t>(f));
    int reply = -1;
    for (int i = 0; i < 3; ++i) {
      if (from >= starts[i] && from < ends[i]) reply = i;
    }
    std::string near = mic_coded.substr(from * bytes_per_sample, frame * bytes_per_sample);
    if (canceller != nullptr) {
      const auto start = Clock::now();
      // The session hands the canceller reply audio only while a reply goes out.
      if (reply >= 0) {
        canceller->OnReplyPlayed(
            sent_coded.substr(from * bytes_per_sample, frame * bytes_per_sample), t);
      }
      near = canceller->Process(near, t);
      canceller_time += Clock::now() - start;
    }
    cleaned_all += near;
    const auto start = Clock::now();
    const bool voiced = vad->IsSpeech(near);
    detector_time += Clock::now() - start;
    const int64_t ms = static_cast<int64_t>(f) * kFrameMs;
    if (absl::GetFlag(FLAGS_trace) && from + 300 * per_ms > caller_at &&
        from < caller_at + 600 * per_ms) {
      const Samples raw_frame = Decode(
          decoder.get(), mic_coded.substr(from * bytes_per_sample, frame * bytes_per_sample));
      const Samples clean_frame = Decode(decoder.get(), near);
      std::printf(
          "    %+5lld ms: mic %5.1f dBFS, cleaned %5.1f dBFS, voiced %d, paused %d\n",
          static_cast<long long>(from / per_ms) - static_cast<long long>(caller_at / per_ms),
          testing::RmsDbfs(raw_frame), testing::RmsDbfs(clean_frame), voiced, barge_in.paused());
    }
    const auto events = segmenter.Push(ms, kFrameMs, voiced);
    // The reply (and its echo, delay_ms later) plays on whatever the detector says: the worst
    // case for the echo, which a real pause would silence.
    const bool playing = reply >= 0;
    const BargeInDetector::Action action = barge_in.OnFrame(events, ms, kFrameMs, voiced, playing);
    if (reply < 0) {
      barge_in.Reset();
      continue;
    }
    ReplyOutcome& outcome =
        reply < 2 ? result.silent[static_cast<size_t>(reply)] : result.double_talk;
    if (action == BargeInDetector::Action::kPause) ++outcome.pauses;
    // Caught: the reply stands paused, or is interrupted, over the caller's voice.
    const bool caught = barge_in.paused() || action == BargeInDetector::Action::kInterrupt;
    if (reply == 2 && caught && from + frame > caller_at && outcome.caught_after_ms < 0) {
      outcome.caught_after_ms = static_cast<double>(from + frame - caller_at) / per_ms;
    }
    if (action == BargeInDetector::Action::kInterrupt) {
      ++outcome.interrupts;
      if (reply == 2 && from + frame > caller_at) outcome.interrupted = true;
      barge_in.Reset();
    }
  }
  // The echo removed over the second reply and its tail (the caller silent).
  const Samples cleaned = Decode(decoder.get(), cleaned_all);
  const Samples raw = Decode(decoder.get(), mic_coded);
  const size_t from = starts[1], to = std::min(ends[1] + 500 * per_ms, starts[2]);
  result.erle_db =
      10 * std::log10(Energy(raw, from, to) / std::max(Energy(cleaned, from, to), 1.0));
  if (canceller != nullptr) result.canceller = canceller->stats();
  result.canceller_ms = std::chrono::duration<double, std::milli>(canceller_time).count();
  result.detector_ms = std::chrono::duration<double, std::milli>(detector_time).count();
  result.audio_s = static_cast<double>(frames * kFrameMs) / 1000;
  return result;
}

struct Tally {
  int replies = 0, self_interruptions = 0, paused_replies = 0, pauses = 0;
  int double_talks = 0, caught_400 = 0, interrupted = 0, engaged = 0;
  std::vector<double> caught_ms, erle;
  void Add(const CaseResult& r) {
    for (const ReplyOutcome& o : r.silent) {
      ++replies;
      self_interruptions += o.interrupts;
      paused_replies += o.pauses > 0;
      pauses += o.pauses;
    }
    ++double_talks;
    if (r.double_talk.caught_after_ms >= 0) caught_ms.push_back(r.double_talk.caught_after_ms);
    caught_400 += r.double_talk.caught_after_ms >= 0 && r.double_talk.caught_after_ms <= 400;
    interrupted += r.double_talk.interrupted;
    erle.push_back(r.erle_db);
    engaged += r.canceller.engaged;
  }
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void Print(const char* label, const Tally& t) {
  std::printf(
      "%-34s %4d replies: %3d self-interruptions, %3d paused (%4d pauses) | double talk: %2d/%2d "
      "caught <= 400 ms (p50 %4.0f ms), %2d interrupted | ERLE p10/p50 %5.1f/%5.1f dB | "
      "engaged in %d of %d calls\n",
      label, t.replies, t.self_interruptions, t.paused_replies, t.pauses, t.caught_400,
      t.double_talks, Percentile(t.caught_ms, 0.5), t.interrupted, Percentile(t.erle, 0.1),
      Percentile(t.erle, 0.5), t.engaged, t.double_talks);
}

int Main() {
  const uint32_t seed = absl::GetFlag(FLAGS_seed);
  std::vector<Samples> replies;
  for (const char* text : {"it is sunny in paris today with a light wind from the west",
                           "tomorrow will be cloudy and a little colder in the morning",
                           "the weekend looks dry with temperatures around twenty degrees and "
                           "a chance of rain on sunday evening"}) {
    replies.push_back(testing::FromPcm16(testing::SpeechPcm16k(text)));
  }
  const Samples question = testing::FromPcm16(testing::SpeechPcm16k("what time is it in new york"));
  std::vector<Samples> voices;  // For babble.
  for (const char* text : {"i would like to hear some music", "thank you very much",
                           "how far is the station from here", "the meeting moved to thursday"}) {
    voices.push_back(testing::FromPcm16(testing::SpeechPcm16k(text)));
  }

  std::vector<Case> cases;
  for (Line line : {Line::kWideband, Line::kPhone}) {
    for (int delay : {40, 100, 200, 300, 400}) {
      for (double loss : {0.0, 6.0, 10.0, 20.0}) {
        for (double drift : {0.0, 0.001, -0.001}) cases.push_back({line, delay, loss, drift});
      }
    }
    // A headset: no echo at all (the caller still talks over the third reply), in a quiet room
    // and in noisy ones.
    for (int i = 0; i < 12; ++i) cases.push_back({line, 0, kNoEcho, 0});
    for (int i = 0; i < 4; ++i) {
      cases.push_back({line, 0, kNoEcho, 0, testing::Noise::kPink, -30});
      cases.push_back({line, 0, kNoEcho, 0, testing::Noise::kBrown, -25});
      cases.push_back({line, 0, kNoEcho, 0, testing::Noise::kBabble, -35});
    }
  }
  for (Mode mode : {Mode::kOff, Mode::kAuto, Mode::kOn}) {
    Tally goal, wide, phone, long_delay, no_loss, headset_wide, headset_phone, noisy_wide,
        noisy_phone;
    double canceller_ms = 0, detector_ms = 0, audio_s = 0;
    uint32_t s = seed;
    for (const Case& c : cases) {
      const CaseResult r = RunCase(c, mode, replies, voices, question, s++);
      canceller_ms += r.canceller_ms;
      detector_ms += r.detector_ms;
      audio_s += r.audio_s;
      if (absl::GetFlag(FLAGS_details)) {
        std::printf(
            "  %s %s %s %3.0f dBFS %3d ms %4.1f dB drift %+.1f %%: silent %d/%d interrupts, %d/%d "
            "pauses; "
            "double talk caught after %.0f ms, interrupted %d; ERLE %.1f dB (canceller: delay %d "
            "ms, "
            "ERL %.1f dB, ERLE %.1f dB, found %d, none %d)\n",
            mode == Mode::kOff  ? "off "
            : mode == Mode::kOn ? "on  "
                                : "auto",
            c.line == Line::kPhone ? "phone" : "wide ", testing::NoiseName(c.noise), c.noise_dbfs,
            c.delay_ms, c.loss_db, 100 * c.drift, r.silent[0].interrupts, r.silent[1].interrupts,
            r.silent[0].pauses, r.silent[1].pauses, r.double_talk.caught_after_ms,
            r.double_talk.interrupted, r.erle_db, r.canceller.delay_ms, r.canceller.erl_db,
            r.canceller.erle_db, r.canceller.echo_found, r.canceller.no_echo);
      }
      if (c.loss_db == kNoEcho) {
        if (c.noise_dbfs > -60) {
          (c.line == Line::kPhone ? noisy_phone : noisy_wide).Add(r);
        } else {
          (c.line == Line::kPhone ? headset_phone : headset_wide).Add(r);
        }
        continue;
      }
      const bool in_goal = c.delay_ms <= 300 && c.loss_db >= 6;
      if (in_goal) goal.Add(r);
      if (in_goal) (c.line == Line::kPhone ? phone : wide).Add(r);
      if (c.delay_ms > 300 && c.loss_db >= 6) long_delay.Add(r);
      if (c.loss_db < 6) no_loss.Add(r);
    }
    std::printf("echo cancellation %s (seed %u)\n", ModeName(mode), seed);
    Print("  goal: delay <= 300 ms, loss >= 6 dB", goal);
    Print("    of them wideband (16 kHz PCM16)", wide);
    Print("    of them phone (8 kHz mu-law)", phone);
    Print("  delay 400 ms, loss >= 6 dB", long_delay);
    Print("  loss 0 dB (echo as loud as the reply)", no_loss);
    Print("  no echo (a headset), wideband", headset_wide);
    Print("  no echo (a headset), phone", headset_phone);
    Print("  no echo, noisy room, wideband", noisy_wide);
    Print("  no echo, noisy room, phone", noisy_phone);
    if (mode != Mode::kOff) {
      std::printf(
          "  cpu: canceller %.2f ms per audio s, detector %.2f ms per audio s (canceller / "
          "detector %.2f)\n",
          canceller_ms / audio_s, detector_ms / audio_s, canceller_ms / detector_ms);
    }
  }
  return 0;
}

}  // namespace
}  // namespace voxflow

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return voxflow::Main();
}
