// The listening benchmark's detector part: each candidate voice activity detector, with the
// session's own endpointing (UtteranceSegmenter) and barge-in rule (BargeInDetector) on top, hears
// a caller in a room, in process and faster than real time. Seeded, so runs repeat exactly.
//
// - questions: three spoken questions (espeak-ng, -20 dBFS) 1.5 s apart under continuous noise
//   (white, pink, brown, babble, music, hum at -50..-25 dBFS): questions heard once each, merged,
//   cut only by max_utterance_ms, spurious utterances, end of speech -> end of utterance.
// - bars: the caller silent over a reply, six 400 ms bars of noise and then 4 s of it at -25 dBFS:
//   reply pauses and false barge-ins.
// - onset: a soft question (-35 and -40 dBFS) in a quiet room: heard, and how late its onset.
// - after bursts: speech-like bursts over a reply for 3 s, then a question (endpointing
//   min_speech_ms as asked): is the question heard?
// - cpu: detector time per second of audio.
//
//   bazel run -c opt //bench/listening:detector_bench
//   bazel run -c opt //bench/listening:detector_bench -- --candidates=gmm,robust
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bench/listening/candidate_detectors.h"
#include "services/common/audio_chunk.h"
#include "services/orchestrator/listening/barge_in_detector.h"
#include "services/orchestrator/listening/listener.h"
#include "services/orchestrator/listening/utterance_segmenter.h"
#include "services/orchestrator/listening/voice_activity_detector.h"
#include "services/orchestrator/testing/test_audio.h"
#include "tests/util/fixtures.h"
#include "tests/util/room_audio.h"

ABSL_FLAG(std::string, candidates, "", "Comma-separated candidate names (empty: all).");
ABSL_FLAG(int, silence_ms, 500, "Endpointing silence_ms.");
ABSL_FLAG(int, min_speech_ms, 150, "Endpointing min_speech_ms.");
ABSL_FLAG(int, barge_in_min_speech_ms, 400, "Barge-in min_speech_ms.");
ABSL_FLAG(uint32_t, seed, 1, "Seed of the noises.");
ABSL_FLAG(double, harmonicity, voxflow::orchestrator::NoiseRobustVadOptions().min_harmonicity,
          "The robust candidate's min_harmonicity.");
ABSL_FLAG(double, floor_snr_db, voxflow::orchestrator::NoiseRobustVadOptions().floor_snr_db,
          "The robust candidate's floor_snr_db.");
ABSL_FLAG(double, foreground_margin_db,
          voxflow::orchestrator::NoiseRobustVadOptions().foreground_margin_db,
          "The robust candidate's foreground_margin_db.");
ABSL_FLAG(int, voicing_hold_ms, voxflow::orchestrator::NoiseRobustVadOptions().voicing_hold_ms,
          "The robust candidate's voicing_hold_ms.");
ABSL_FLAG(
    std::string, segment_file, "",
    "Instead of the benchmark: segment this raw 16 kHz mono PCM16 file (e.g. what the "
    "turn-taking bench recorded with BENCH_DEBUG) and print its utterances and voiced frames.");
ABSL_FLAG(std::string, segment_text, "",
          "Like --segment_file, on espeak-ng's speech of this text (1 s of silence around it).");
ABSL_FLAG(std::string, segment_detector, "robust", "--segment_file's detector: robust or webrtc.");
ABSL_FLAG(bool, details, false, "Print every case, not only the summary.");
ABSL_FLAG(std::string, trace, "",
          "NOISE:DBFS (e.g. pink:-25): only that case, with each candidate's voiced frames.");

namespace voxflow::bench {
namespace {

using orchestrator::BargeInDetector;
using orchestrator::BargeInSettings;
using orchestrator::EndpointingSettings;
using orchestrator::UtteranceSegmenter;
using orchestrator::VoiceActivityDetector;
using testing::AllNoises;
using testing::AtLevel;
using testing::FromPcm16;
using testing::MakeNoise;
using testing::MixInto;
using testing::Noise;
using testing::NoiseName;
using testing::Samples;
using testing::ToPcm16;

constexpr int kFrameMs = 20;
constexpr size_t kFrameSamples = 16 * kFrameMs;
constexpr size_t kMs = 16;  // Samples per ms.

struct Span {
  size_t begin, end;  // Samples.
};

struct Utterance {
  int64_t start_ms, end_ms;
  bool cut = false;  // Ended by max_utterance_ms.
};

// The detector's verdict per frame, through the segmenter.
// `voiced_frames`: 'x' voiced, '.' not.
std::vector<Utterance> Segment(VoiceActivityDetector& vad, const Samples& audio,
                               std::vector<char>* voiced_frames = nullptr) {
  EndpointingSettings settings;
  settings.silence_ms = absl::GetFlag(FLAGS_silence_ms);
  settings.min_speech_ms = absl::GetFlag(FLAGS_min_speech_ms);
  UtteranceSegmenter segmenter(settings);
  const std::string pcm = ToPcm16(audio);
  std::vector<Utterance> out;
  bool open = false;
  for (size_t at = 0; at + kFrameSamples * 2 <= pcm.size(); at += kFrameSamples * 2) {
    const int64_t ms = static_cast<int64_t>(at / 2 / kMs);
    const bool voiced = vad.IsSpeech(absl::string_view(pcm).substr(at, kFrameSamples * 2));
    if (voiced_frames != nullptr) voiced_frames->push_back(voiced ? 'x' : '.');
    const double speaking_for = static_cast<double>(ms - segmenter.speech_start_ms());
    const auto events = segmenter.Push(ms, kFrameMs, voiced);
    if (events.confirmed) {
      out.push_back({segmenter.speech_start_ms(), 0});
      open = true;
    }
    if (events.ended && open) {
      out.back().end_ms = ms + kFrameMs;
      out.back().cut = speaking_for + kFrameMs >= settings.max_utterance_ms;
      open = false;
    }
  }
  if (open) out.back().end_ms = static_cast<int64_t>(audio.size() / kMs);
  return out;
}

struct QuestionsResult {
  int heard_once = 0, merged = 0, missed = 0, spurious = 0, cut = 0;
  double worst_end_lag_ms = 0;  // End of speech -> end of utterance, the worst question.
};

QuestionsResult RunQuestions(const CandidateFactory& make, const std::vector<Samples>& questions,
                             Noise noise, double dbfs, const std::vector<Samples>& voices,
                             uint32_t seed) {
  std::vector<Span> spans;
  size_t at = 2000 * kMs;
  for (const Samples& q : questions) {
    spans.push_back({at, at + q.size()});
    at += q.size() + 1500 * kMs;
  }
  Samples audio(at + 1000 * kMs, 0.0f);
  for (size_t i = 0; i < questions.size(); ++i) MixInto(audio, questions[i], spans[i].begin);
  MixInto(audio, MakeNoise(noise, audio.size(), dbfs, seed, voices), 0);
  auto vad = make();
  std::vector<char> voiced;
  const std::vector<Utterance> utterances = Segment(*vad, audio, &voiced);
  if (absl::GetFlag(FLAGS_trace) == absl::StrCat(NoiseName(noise), ":", dbfs)) {
    std::string line;
    for (size_t f = 0; f < voiced.size(); ++f) {
      bool in_speech = false;
      for (const Span& s : spans)
        in_speech |= f * kFrameSamples >= s.begin && f * kFrameSamples < s.end;
      line += voiced[f] != '.' ? (in_speech ? '#' : '!') : (in_speech ? '_' : '.');
    }
    std::printf(
        "  trace (20 ms frames; # voiced speech, _ unvoiced speech, ! voiced noise):\n  %s\n",
        line.c_str());
  }
  QuestionsResult result;
  std::vector<int> hits(spans.size(), 0);
  for (const Utterance& u : utterances) {
    int overlaps = 0;
    for (size_t i = 0; i < spans.size(); ++i) {
      const int64_t b = static_cast<int64_t>(spans[i].begin / kMs);
      const int64_t e = static_cast<int64_t>(spans[i].end / kMs);
      if (u.start_ms < e && u.end_ms > b) {
        ++overlaps;
        ++hits[i];
        result.worst_end_lag_ms =
            std::max(result.worst_end_lag_ms, static_cast<double>(u.end_ms - e));
      }
    }
    if (overlaps == 0) ++result.spurious;
    if (overlaps > 1) ++result.merged;
    if (u.cut) ++result.cut;
  }
  for (int h : hits) {
    if (h == 0) ++result.missed;
    if (h == 1) ++result.heard_once;
  }
  if (result.merged > 0) result.heard_once = 0;
  return result;
}

struct BarsResult {
  int pauses = 0, interrupts = 0;
};

// The caller silent over a reply that plays throughout: bars of noise, then continuous noise.
BarsResult RunBars(const CandidateFactory& make, Noise noise, double dbfs,
                   const std::vector<Samples>& voices, uint32_t seed) {
  Samples audio = MakeNoise(Noise::kWhite, 14000 * kMs, -70, seed + 1, voices);
  for (int bar = 0; bar < 6; ++bar) {
    MixInto(audio, MakeNoise(noise, 400 * kMs, dbfs, seed + 10 + bar, voices),
            (2000 + 1400 * bar) * kMs);
  }
  MixInto(audio, MakeNoise(noise, 4000 * kMs, dbfs, seed + 20, voices), 10000 * kMs);
  auto vad = make();
  EndpointingSettings endpointing;
  endpointing.silence_ms = absl::GetFlag(FLAGS_silence_ms);
  endpointing.min_speech_ms = absl::GetFlag(FLAGS_min_speech_ms);
  UtteranceSegmenter segmenter(endpointing);
  BargeInSettings barge;
  barge.min_speech_ms = absl::GetFlag(FLAGS_barge_in_min_speech_ms);
  BargeInDetector detector(barge);
  const std::string pcm = ToPcm16(audio);
  BarsResult result;
  for (size_t at = 0; at + kFrameSamples * 2 <= pcm.size(); at += kFrameSamples * 2) {
    const int64_t ms = static_cast<int64_t>(at / 2 / kMs);
    const bool voiced = vad->IsSpeech(absl::string_view(pcm).substr(at, kFrameSamples * 2));
    const auto events = segmenter.Push(ms, kFrameMs, voiced);
    const auto action = detector.OnFrame(events, ms, kFrameMs, voiced, true);
    if (action == BargeInDetector::Action::kPause) ++result.pauses;
    if (action == BargeInDetector::Action::kInterrupt) {
      ++result.interrupts;
      detector.Reset();
    }
  }
  return result;
}

// Speech-like bursts over a reply (babble, music, white noise at -35..-20 dBFS, 100-340 ms,
// 300-600 ms apart, over digital silence) for 3 s, a pause of 200-2000 ms, then a question: is the
// question an utterance (endpointing's min_speech_ms of 400, as the turn-taking benchmark asks)?
// The detector must not learn the bursts as the room or the caller's level.
int RunAfterBursts(const CandidateFactory& make, const std::vector<Samples>& questions,
                   const std::vector<Samples>& voices, uint32_t seed, int trials) {
  std::mt19937 rng(seed);
  int heard = 0;
  for (int trial = 0; trial < trials; ++trial) {
    Samples audio(1000 * kMs, 0.0f);
    const Samples& first = questions[rng() % questions.size()];
    audio.insert(audio.end(), first.begin(), first.end());
    audio.resize(audio.size() + 600 * kMs, 0.0f);
    const size_t bursts_end = audio.size() + 3000 * kMs;
    while (audio.size() < bursts_end) {
      const double dbfs = -35 + static_cast<double>(rng() % 16);
      const size_t length = (100 + 20 * (rng() % 13)) * kMs;
      const Noise kinds[] = {Noise::kWhite, Noise::kBabble, Noise::kMusic};
      const Samples burst = MakeNoise(kinds[rng() % 3], length, dbfs, rng(), voices);
      audio.insert(audio.end(), burst.begin(), burst.end());
      audio.resize(audio.size() + (300 + 20 * (rng() % 16)) * kMs, 0.0f);
    }
    audio.resize(audio.size() + (200 + 20 * (rng() % 91)) * kMs, 0.0f);
    const size_t begin = audio.size();
    const Samples& question = questions[rng() % questions.size()];
    audio.insert(audio.end(), question.begin(), question.end());
    audio.resize(audio.size() + 1000 * kMs, 0.0f);
    auto vad = make();
    for (const Utterance& u : Segment(*vad, audio)) {
      if (u.end_ms > static_cast<int64_t>(begin / kMs)) {
        ++heard;
        break;
      }
    }
  }
  return heard;
}

struct OnsetResult {
  bool heard = false;
  double onset_delay_ms = 0;  // First voiced frame after the speech began.
  double voiced_share = 0;    // Of the speech's frames.
};

OnsetResult RunOnset(const CandidateFactory& make, const Samples& question, double dbfs,
                     uint32_t seed) {
  const size_t begin = 2000 * kMs;
  Samples audio = MakeNoise(Noise::kPink, begin + question.size() + 1000 * kMs, -65, seed, {});
  MixInto(audio, AtLevel(question, dbfs), begin);
  auto vad = make();
  std::vector<char> voiced;
  const std::vector<Utterance> utterances = Segment(*vad, audio, &voiced);
  OnsetResult result;
  const size_t first = begin / kFrameSamples, last = (begin + question.size()) / kFrameSamples;
  int count = 0;
  for (size_t f = first; f < last && f < voiced.size(); ++f) {
    const bool speech = voiced[f] != '.';
    if (speech && count == 0) result.onset_delay_ms = static_cast<double>(f - first) * kFrameMs;
    count += speech;
  }
  result.voiced_share = static_cast<double>(count) / static_cast<double>(last - first);
  for (const Utterance& u : utterances) {
    if (u.start_ms < static_cast<int64_t>((begin + question.size()) / kMs) &&
        u.end_ms > static_cast<int64_t>(begin / kMs)) {
      result.heard = true;
    }
  }
  return result;
}

// The fastest of five runs, each with a new detector: one run is tens of ms, which a busy
// machine's scheduling scatters by half.
double CpuMsPerAudioSecond(const CandidateFactory& make, const Samples& audio) {
  const std::string pcm = ToPcm16(audio);
  double fastest_ms = std::numeric_limits<double>::infinity();
  for (int run = 0; run < 5; ++run) {
    auto vad = make();
    const auto start = std::chrono::steady_clock::now();
    for (size_t at = 0; at + kFrameSamples * 2 <= pcm.size(); at += kFrameSamples * 2) {
      vad->IsSpeech(absl::string_view(pcm).substr(at, kFrameSamples * 2));
    }
    fastest_ms =
        std::min(fastest_ms,
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  return fastest_ms / (static_cast<double>(audio.size()) / 16000);
}

// What the session's own Listener (the detector, the room's floor, endpointing) makes of `pcm`
// (16 kHz mono PCM16), fed in 20 ms chunks at their stream times: its utterances, printed.
class PrintingHooks final : public orchestrator::ListenerHooks {
 public:
  void OnUtteranceStarted(std::shared_ptr<orchestrator::Utterance>, absl::Time,
                          int64_t stream_ms) override {
    std::printf("listener: utterance %.2f-", stream_ms / 1000.0);
  }
  void OnUtteranceEnded(absl::Time, absl::Time, int64_t stream_ms) override {
    std::printf("%.2f s\n", stream_ms / 1000.0);
  }
  void OnVoiceOverReply(BargeInDetector::Action) override {}
  bool ReplyPlaying() const override { return false; }
};

void ListenTo(std::unique_ptr<VoiceActivityDetector> vad, const std::string& pcm,
              const EndpointingSettings& endpointing) {
  streaming::JitterBufferOptions input;
  input.target_duration_ms = 40;
  auto buffer = streaming::JitterBuffer::Create(input);
  if (!buffer.ok()) return;
  PrintingHooks hooks;
  orchestrator::Listener listener({}, MakeStreamFormat(v1::PCM16, 16000, 1), *std::move(buffer),
                                  std::move(vad), endpointing, BargeInSettings{}, &hooks);
  absl::Time now = absl::UnixEpoch();
  constexpr size_t kChunkBytes = kFrameSamples * 2;
  uint64_t sequence = 0;
  for (size_t at = 0; at + kChunkBytes <= pcm.size(); at += kChunkBytes) {
    if (!listener
             .Push(orchestrator::testing::Pcm16kChunk(pcm.substr(at, kChunkBytes), ++sequence), now,
                   0)
             .ok()) {
      return;
    }
    now += absl::Milliseconds(20);
  }
  std::printf("listener: noise floor %.1f dBFS\n", listener.noise_floor_dbfs());
}

int Main() {
  const uint32_t seed = absl::GetFlag(FLAGS_seed);

  const std::vector<std::string> texts = {"what time is it", "how is the weather in paris today",
                                          "can you book a table for two at eight"};
  const std::vector<std::string> babble_texts = {"i would like to hear some music",
                                                 "tell me a story please",
                                                 "thank you very much",
                                                 "how far is the station from here",
                                                 "the meeting was moved to thursday afternoon",
                                                 "she sells sea shells by the sea shore"};
  std::vector<Samples> questions, voices;
  for (const auto& t : texts)
    questions.push_back(AtLevel(FromPcm16(testing::SpeechPcm16k(t)), -20));
  for (const auto& t : babble_texts) voices.push_back(FromPcm16(testing::SpeechPcm16k(t)));

  orchestrator::NoiseRobustVadOptions robust;
  robust.min_harmonicity = absl::GetFlag(FLAGS_harmonicity);
  robust.floor_snr_db = absl::GetFlag(FLAGS_floor_snr_db);
  robust.foreground_margin_db = absl::GetFlag(FLAGS_foreground_margin_db);
  robust.voicing_hold_ms = absl::GetFlag(FLAGS_voicing_hold_ms);
  const std::string file = absl::GetFlag(FLAGS_segment_file);
  const std::string text = absl::GetFlag(FLAGS_segment_text);
  if (!file.empty() || !text.empty()) {
    std::string pcm;
    if (!file.empty()) {
      std::ifstream in(file);
      pcm.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } else {
      pcm = std::string(32000, '\0') + testing::SpeechPcm16k(text) + std::string(32000, '\0');
    }
    auto make = [&] {
      return absl::GetFlag(FLAGS_segment_detector) == "webrtc"
                 ? orchestrator::CreateWebRtcVad(MakeStreamFormat(v1::PCM16, 16000, 1))
                 : orchestrator::CreateNoiseRobustVad(MakeStreamFormat(v1::PCM16, 16000, 1),
                                                      robust);
    };
    auto vad = make();
    std::vector<char> voiced;
    for (const Utterance& u : Segment(**vad, FromPcm16(pcm), &voiced)) {
      std::printf("utterance %.2f-%.2f s\n", u.start_ms / 1000.0, u.end_ms / 1000.0);
    }
    std::string line;
    for (size_t f = 0; f < voiced.size(); ++f) {
      line += voiced[f];
      if (line.size() == 50) {
        std::printf("%6.1f s %s\n", (f - 49) * 0.02, line.c_str());
        line.clear();
      }
    }
    if (!line.empty())
      std::printf("%6.1f s %s\n", (voiced.size() - line.size()) * 0.02, line.c_str());
    ListenTo(*make(), pcm,
             {.silence_ms = absl::GetFlag(FLAGS_silence_ms),
              .min_speech_ms = absl::GetFlag(FLAGS_min_speech_ms)});
    return 0;
  }
  std::vector<Candidate> candidates = AllCandidates(robust);
  const std::string wanted = absl::GetFlag(FLAGS_candidates);
  if (!wanted.empty()) {
    std::vector<std::string> names = absl::StrSplit(wanted, ',');
    std::vector<Candidate> chosen;
    for (const Candidate& c : candidates) {
      if (std::find(names.begin(), names.end(), c.name) != names.end()) chosen.push_back(c);
    }
    candidates = chosen;
  }

  struct Case {
    Noise noise;
    double dbfs;
  };
  std::vector<Case> cases = {{Noise::kNone, -90}};
  for (Noise noise : AllNoises()) {
    for (double dbfs : {-50.0, -40.0, -35.0, -30.0, -25.0}) cases.push_back({noise, dbfs});
  }
  const bool details = absl::GetFlag(FLAGS_details);
  std::printf(
      "speech at -20 dBFS; silence_ms=%d min_speech_ms=%d barge_in_min_speech_ms=%d seed=%u\n",
      absl::GetFlag(FLAGS_silence_ms), absl::GetFlag(FLAGS_min_speech_ms),
      absl::GetFlag(FLAGS_barge_in_min_speech_ms), seed);
  const int goal_lag = absl::GetFlag(FLAGS_silence_ms) + 200;
  for (const Candidate& candidate : candidates) {
    std::printf("\n== %s: %s\n", candidate.name.c_str(), candidate.description.c_str());
    // Goals: stationary (white/pink/brown/hum) to -25 and babble to -35 every question heard once
    // and ended within silence_ms + 200 ms.
    int goal_cases = 0, goal_met = 0;
    int total_once = 0, total_questions = 0, total_spurious = 0, total_cut = 0, total_merged = 0;
    std::vector<std::string> failures;
    for (const Case& c : cases) {
      if (!absl::GetFlag(FLAGS_trace).empty() &&
          absl::GetFlag(FLAGS_trace) != absl::StrCat(NoiseName(c.noise), ":", c.dbfs)) {
        continue;
      }
      const QuestionsResult r = RunQuestions(candidate.make, questions, c.noise, c.dbfs, voices,
                                             seed + static_cast<uint32_t>(c.dbfs * -7));
      total_once += r.heard_once;
      total_questions += static_cast<int>(questions.size());
      total_spurious += r.spurious;
      total_cut += r.cut;
      total_merged += r.merged;
      const bool in_goal = c.noise == Noise::kNone ||
                           ((c.noise == Noise::kWhite || c.noise == Noise::kPink ||
                             c.noise == Noise::kBrown || c.noise == Noise::kHum) &&
                            c.dbfs <= -25) ||
                           (c.noise == Noise::kBabble && c.dbfs <= -35);
      const bool met = r.heard_once == static_cast<int>(questions.size()) && r.spurious == 0 &&
                       r.cut == 0 && r.worst_end_lag_ms <= goal_lag;
      if (in_goal) {
        ++goal_cases;
        goal_met += met;
      }
      if (details || (in_goal && !met)) {
        std::printf(
            "  questions %-6s %4.0f dBFS: once %d/3 merged %d missed %d spurious %d cut %d "
            "end lag %5.0f ms%s\n",
            NoiseName(c.noise), c.dbfs, r.heard_once, r.merged, r.missed, r.spurious, r.cut,
            r.worst_end_lag_ms, in_goal && !met ? "  << goal missed" : "");
      }
    }
    std::printf(
        "  questions: %d/%d heard once, %d merged, %d spurious, %d cut; goal cases met "
        "%d/%d\n",
        total_once, total_questions, total_merged, total_spurious, total_cut, goal_met, goal_cases);
    if (!absl::GetFlag(FLAGS_trace).empty()) continue;
    int pauses = 0, interrupts = 0, stationary_interrupts = 0;
    for (Noise noise : AllNoises()) {
      const BarsResult b = RunBars(candidate.make, noise, -25, voices, seed);
      pauses += b.pauses;
      interrupts += b.interrupts;
      if (noise != Noise::kBabble && noise != Noise::kMusic) stationary_interrupts += b.interrupts;
      if (details || b.interrupts > 0) {
        std::printf("  bars %-6s -25 dBFS: pauses %d false barge-ins %d\n", NoiseName(noise),
                    b.pauses, b.interrupts);
      }
    }
    std::printf("  bars at -25 dBFS: %d pauses, %d false barge-ins (%d from stationary noise)\n",
                pauses, interrupts, stationary_interrupts);
    for (double dbfs : {-35.0, -40.0}) {
      for (size_t q = 0; q < questions.size(); ++q) {
        const OnsetResult o = RunOnset(candidate.make, questions[q], dbfs, seed);
        std::printf("  onset \"%s\" at %.0f dBFS: %s, first voiced %3.0f ms, voiced %2.0f%%\n",
                    texts[q].c_str(), dbfs, o.heard ? "heard" : "MISSED", o.onset_delay_ms,
                    100 * o.voiced_share);
      }
    }
    const int trials = 40;
    std::printf("  questions after speech-like bursts: %d/%d heard\n",
                RunAfterBursts(candidate.make, questions, voices, seed, trials), trials);
    Samples cpu_audio = MakeNoise(Noise::kPink, 30000 * kMs, -30, seed, voices);
    for (size_t i = 0; i < 10; ++i) MixInto(cpu_audio, questions[i % 3], (i * 3000 + 200) * kMs);
    std::printf("  cpu: %.3f ms per audio second\n",
                CpuMsPerAudioSecond(candidate.make, cpu_audio));
  }
  return 0;
}

}  // namespace
}  // namespace voxflow::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return voxflow::bench::Main();
}
