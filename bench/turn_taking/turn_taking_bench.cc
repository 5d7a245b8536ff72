// Turn taking as callers who just talk, measured from the caller's side: N concurrent scripted
// calls, each streaming a microphone at real time (questions, pauses of 200-2000 ms, some
// questions with a short pause inside, noise bursts over replies, speech over replies), never
// END_OF_INPUT. Reports input accounting (samples lost), voice-to-voice as the caller measures it
// against the server's figure, false barge-ins from noise, and how fast speech pauses a reply;
// with real engines, word accuracy against the questions asked. The room can add continuous
// background noise (--room, --room_dbfs) and the reply's echo (--echo_delay_ms, --echo_loss_db,
// a speakerphone). BENCH_DEBUG=1 prints every turn, and a failed call's events and microphone
// audio (/tmp/bench_call_N.pcm; detector_bench --segment_file replays it).
//
//   bazel run -c opt //bench/turn_taking:turn_taking_bench -- --sessions=20 --turns=26
//   bazel run -c opt //bench/turn_taking:turn_taking_bench -- --engines=real --sessions=2 --turns=8
//   bazel run -c opt //bench/turn_taking:turn_taking_bench -- --engines=real --room=pink
//   --room_dbfs=-40
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "services/common/audio_chunk.h"
#include "tests/util/converse_client.h"
#include "tests/util/fixtures.h"
#include "tests/util/microphone.h"
#include "tests/util/room_audio.h"
#include "tests/util/server_process.h"
#include "tests/util/speakerphone.h"

ABSL_FLAG(std::string, engines, "mock",
          "mock (mock STT and TTS) or real (pocketsphinx, espeak-ng).");
ABSL_FLAG(int, sessions, 20, "Concurrent calls.");
ABSL_FLAG(int, turns, 26, "Questions per call (every 4th reply is interrupted by speech).");
ABSL_FLAG(int, silence_ms, 500, "config.endpointing.silence_ms.");
ABSL_FLAG(int, min_speech_ms, 400,
          "config.endpointing.min_speech_ms and config.barge_in.min_speech_ms.");
ABSL_FLAG(int, endpointing_min_speech_ms, 0,
          "config.endpointing.min_speech_ms when not --min_speech_ms (0: --min_speech_ms).");
ABSL_FLAG(uint32_t, seed, 1, "Seed of every script.");
ABSL_FLAG(bool, bursts, true, "Noise bursts over the replies the caller does not talk over.");
ABSL_FLAG(int, talk_over_every, 4, "Talk over every Nth reply (0: never).");
ABSL_FLAG(std::string, room, "none",
          "Continuous background noise under everything the caller's microphone picks up: none, "
          "white, pink, brown, babble, music or hum.");
ABSL_FLAG(double, room_dbfs, -40, "The background noise's level (the questions are at -20 dBFS).");
ABSL_FLAG(int, echo_delay_ms, 0,
          "A speakerphone: the reply, played as received, comes back into the microphone this "
          "much later (0: a headset, no echo).");
ABSL_FLAG(double, echo_loss_db, 10, "How far down the echo comes back.");
ABSL_FLAG(std::string, voice_detector, "",
          "config.voice_detector: webrtc or noise_robust (empty: the server's default).");
ABSL_FLAG(std::string, echo_cancellation, "auto",
          "config.echo_cancellation with an echo: off, auto or on.");

namespace voxflow::bench {
namespace {

using testing::ConverseClient;
using testing::Microphone;
using testing::TimedEvent;
using Case = v1::ConverseEvent::EventCase;
constexpr size_t kChunk = 640;  // 20 ms of 16 kHz mono PCM16.

v1::AudioStreamFormat Pcm16k() { return MakeStreamFormat(v1::PCM16, 16000, 1); }

std::string PadToChunks(std::string pcm) {
  pcm.resize((pcm.size() + kChunk - 1) / kChunk * kChunk, '\0');
  return pcm;
}

std::vector<float> Samples(const std::string& pcm) {
  std::vector<float> out(pcm.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int16_t v;
    std::memcpy(&v, pcm.data() + 2 * i, 2);
    out[i] = v;
  }
  return out;
}

std::string ToPcm(const std::vector<float>& samples, double dbfs) {
  double sum = 0;
  for (float s : samples) sum += double(s) * s;
  const double rms = std::sqrt(sum / std::max<size_t>(samples.size(), 1));
  const double gain = rms > 0 ? 32767 * std::pow(10, dbfs / 20) / rms : 0;
  std::string pcm;
  for (float s : samples) {
    const auto v = static_cast<int16_t>(std::clamp(s * gain, -32767.0, 32767.0));
    pcm.append(reinterpret_cast<const char*>(&v), 2);
  }
  return pcm;
}

const std::vector<std::string> kPhrases = {
    "what is the weather like today",   "hello how are you",
    "tell me a story please",           "what did i say",
    "can you book a table for two",     "i would like to hear some music",
    "how far is the station from here", "thank you very much"};

struct Audio {
  std::vector<std::string> questions;
  testing::Noise room = testing::Noise::kNone;
  std::vector<std::vector<float>> babble_sources;
  std::string Babble(std::mt19937& rng, int ms, double dbfs) const {
    std::vector<float> mix(16 * ms, 0.0f);
    for (int voice = 0; voice < 4; ++voice) {
      const auto& src = babble_sources[rng() % babble_sources.size()];
      const size_t offset = rng() % std::max<size_t>(src.size() - mix.size(), 1);
      for (size_t i = 0; i < mix.size() && offset + i < src.size(); ++i) mix[i] += src[offset + i];
    }
    return ToPcm(mix, dbfs);
  }
  static std::string Music(std::mt19937& rng, int ms, double dbfs) {
    // Chords of three harmonic notes that change every 150 ms.
    std::vector<float> out(16 * ms);
    double f[3] = {0, 0, 0};
    for (size_t i = 0; i < out.size(); ++i) {
      if (i % 2400 == 0) {
        const double root = 220 * std::pow(2.0, (rng() % 12) / 12.0);
        f[0] = root, f[1] = root * 1.26, f[2] = root * 1.5;
      }
      double v = 0;
      for (double hz : f) {
        for (int h = 1; h <= 3; ++h) v += std::sin(2 * M_PI * hz * h * i / 16000) / h;
      }
      out[i] = static_cast<float>(v);
    }
    return ToPcm(out, dbfs);
  }
};

struct CallResult {
  std::vector<double> v2v_client, v2v_server, v2v_gap;
  int turns = 0, expected_turns = 0, bursts = 0, false_barge_ins = 0, pauses = 0, resumes = 0;
  int noise_turns = 0;     // Turns no question made: a burst taken for speech between replies.
  int echo_discarded = 0;  // Utterances the echo guard took for the reply's own words.
  int barge_ins = 0, barge_ins_confirmed = 0, frames_after_pause = 0;
  std::vector<double> pause_delay_ms;
  int64_t sent_bytes = 0, pushed = 0, in_utterances = 0, dropped = 0, pending = 0;
  int64_t recognised_bytes = -1;  // Sum of the mock's {bytes} transcripts (mock engines).
  int reference_words = 0, word_errors = 0;  // Transcripts against the questions (real engines).
  bool ok = true;
  std::string error;
};

// Word-level edit distance of `heard` from `said`, and the number of words said.
std::pair<int, int> WordErrors(const std::string& said, const std::string& heard) {
  const std::vector<std::string> ref = absl::StrSplit(said, ' ', absl::SkipEmpty());
  const std::vector<std::string> hyp = absl::StrSplit(heard, ' ', absl::SkipEmpty());
  std::vector<int> row(hyp.size() + 1);
  for (size_t j = 0; j <= hyp.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= ref.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= hyp.size(); ++j) {
      const int substitution = diagonal + (ref[i - 1] == hyp[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
    }
  }
  return {row[hyp.size()], static_cast<int>(ref.size())};
}

bool HasEvent(const std::vector<TimedEvent>& events,
              const std::function<bool(const v1::ConverseEvent&)>& match) {
  for (const TimedEvent& e : events) {
    if (match(e.event)) return true;
  }
  return false;
}

CallResult RunCall(const std::string& address, const Audio& audio, int index, bool mock) {
  CallResult result;
  std::mt19937 rng(absl::GetFlag(FLAGS_seed) * 7919 + index);
  const int silence_ms = absl::GetFlag(FLAGS_silence_ms);
  const int min_speech = absl::GetFlag(FLAGS_min_speech_ms);
  v1::SessionConfig config;
  *config.mutable_input_format() = Pcm16k();
  *config.mutable_output_format() = Pcm16k();
  config.set_telemetry(true);
  config.set_pipeline(mock ? "bench_chat" : "voice_chat");
  config.mutable_endpointing()->set_silence_ms(silence_ms);
  const int endpointing_min_speech = absl::GetFlag(FLAGS_endpointing_min_speech_ms);
  config.mutable_endpointing()->set_min_speech_ms(
      endpointing_min_speech > 0 ? endpointing_min_speech : min_speech);
  config.mutable_barge_in()->set_min_speech_ms(min_speech);
  if (absl::GetFlag(FLAGS_voice_detector) == "webrtc") {
    config.set_voice_detector(v1::VOICE_DETECTOR_WEBRTC);
  } else if (absl::GetFlag(FLAGS_voice_detector) == "noise_robust") {
    config.set_voice_detector(v1::VOICE_DETECTOR_NOISE_ROBUST);
  }
  const int echo_delay_ms = absl::GetFlag(FLAGS_echo_delay_ms);
  if (echo_delay_ms > 0) {
    const std::string mode = absl::GetFlag(FLAGS_echo_cancellation);
    config.set_echo_cancellation(mode == "on"    ? v1::ECHO_CANCELLATION_ON
                                 : mode == "off" ? v1::ECHO_CANCELLATION_OFF
                                                 : v1::ECHO_CANCELLATION_AUTO);
  }
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  ConverseClient client(channel, config);
  // The room: its background noise (a minute of it, looped) and the speaker's echo.
  const testing::Samples background = testing::MakeNoise(
      audio.room, 16000 * 60, absl::GetFlag(FLAGS_room_dbfs), rng(), audio.babble_sources);
  size_t background_at = 0;
  std::unique_ptr<testing::SpeakerEcho> echo;
  if (echo_delay_ms > 0) {
    echo = std::make_unique<testing::SpeakerEcho>(client, echo_delay_ms,
                                                  absl::GetFlag(FLAGS_echo_loss_db), rng());
  }
  Microphone::Room room;
  std::string recorded;  // BENCH_DEBUG: what the microphone sent.
  const bool record = getenv("BENCH_DEBUG") != nullptr;
  if (audio.room != testing::Noise::kNone || echo != nullptr || record) {
    room = [&](std::string& chunk) {
      testing::Samples piece = testing::FromPcm16(chunk);
      for (float& sample : piece) {
        sample += background[background_at];
        background_at = (background_at + 1) % background.size();
      }
      if (echo != nullptr) echo->AddTo(piece);
      chunk = testing::ToPcm16(piece);
      if (record) recorded += chunk;  // As sent: the room and the echo in it.
    };
  }
  Microphone mic(client, room);
  std::vector<size_t> phrases_asked;  // The phrase of each question, in the order asked.
  std::vector<int> asked_turns;       // The turn each question made, in the same order.
  const int turns = absl::GetFlag(FLAGS_turns);
  auto reply_audio_of = [&](int turn) {
    return [turn](const v1::ConverseEvent& e) {
      return e.has_reply_audio() && e.reply_audio().turn_id() == turn;
    };
  };
  auto completed = [&](int turn) {
    return [turn](const v1::ConverseEvent& e) {
      return e.has_turn_completed() && e.turn_completed().turn_id() == turn;
    };
  };
  const absl::Time call_began = absl::Now();
  auto since = [&](absl::Time t) { return absl::ToInt64Milliseconds(t - call_began); };
  auto dump = [&] {
    std::ofstream(absl::StrCat("/tmp/bench_call_", index, ".pcm")) << recorded;
    for (const TimedEvent& e : client.events()) {
      if (e.event.has_telemetry()) {
        std::string attributes;
        for (const auto& [k, v] : e.event.telemetry().attributes()) {
          if (k == "turn_id" || k == "reason" || k == "action" ||
              e.event.telemetry().name() == "turn.stats")
            absl::StrAppend(&attributes, " ", k, "=", v);
        }
        std::fprintf(stderr, "DEBUG call %d at %lld %s%s\n", index,
                     static_cast<long long>(since(e.received)), e.event.telemetry().name().c_str(),
                     attributes.c_str());
      } else if (e.event.has_user_speech()) {
        std::fprintf(stderr, "DEBUG call %d at %lld user speech %s turn %d\n", index,
                     static_cast<long long>(since(e.received)),
                     v1::UserSpeech::Type_Name(e.event.user_speech().type()).c_str(),
                     e.event.user_speech().turn_id());
      } else if (!e.event.has_reply_audio()) {
        std::fprintf(stderr, "DEBUG call %d at %lld event %d\n", index,
                     static_cast<long long>(since(e.received)),
                     static_cast<int>(e.event.event_case()));
      }
    }
  };
  auto fail = [&](const std::string& why) {
    result.ok = false;
    result.error = why;
    if (getenv("BENCH_DEBUG") != nullptr) dump();
  };

  int turn = 1;
  absl::Time question_end;
  // The first question.
  {
    const std::string& q =
        audio.questions[phrases_asked.emplace_back(rng() % audio.questions.size())];
    question_end = mic.WaitPlayed(mic.Play(q)).second;
  }
  for (int asked = 1; asked <= turns && result.ok; ++asked, ++turn) {
    ++result.expected_turns;
    asked_turns.push_back(turn);
    if (!client.WaitFor([&](const auto& events) { return HasEvent(events, reply_audio_of(turn)); },
                        absl::Seconds(20))) {
      fail(absl::StrCat("no reply audio for turn ", turn));
      break;
    }
    const absl::Time first_audio = [&] {
      for (const TimedEvent& e : client.events()) {
        if (reply_audio_of(turn)(e.event)) return e.received;
      }
      return absl::InfinitePast();
    }();
    result.v2v_client.push_back(absl::ToDoubleMilliseconds(first_audio - question_end));

    const int talk_over_every = absl::GetFlag(FLAGS_talk_over_every);
    if (talk_over_every > 0 && asked % talk_over_every == 0 && asked < turns) {
      // Speech over the reply: it must pause at once and interrupt.
      mic.WaitPlayed(mic.Play(std::string(kChunk * (15 + rng() % 25), '\0')));
      const std::string& q =
          audio.questions[phrases_asked.emplace_back(rng() % audio.questions.size())];
      const auto [start, end] = mic.WaitPlayed(mic.Play(q));
      ++result.barge_ins;
      if (!client.WaitFor([&](const auto& events) { return HasEvent(events, completed(turn)); },
                          absl::Seconds(20))) {
        fail(absl::StrCat("turn ", turn, " did not complete after barge-in"));
        break;
      }
      const std::vector<TimedEvent> events = client.events();
      int paused = -1;
      for (size_t i = 0; i < events.size(); ++i) {
        const auto& e = events[i].event;
        if (e.has_telemetry() && e.telemetry().name() == "turn.reply_paused" &&
            e.telemetry().attributes().at("turn_id") == absl::StrCat(turn) && paused < 0) {
          paused = static_cast<int>(i);
          result.pause_delay_ms.push_back(absl::ToDoubleMilliseconds(events[i].received - start));
        }
        if (e.has_turn_completed() && e.turn_completed().turn_id() == turn &&
            e.turn_completed().interrupted()) {
          ++result.barge_ins_confirmed;
        }
      }
      for (size_t i = std::max(paused, 0); paused >= 0 && i < events.size(); ++i) {
        result.frames_after_pause += reply_audio_of(turn)(events[i].event);
      }
      question_end = end;  // That speech is the next turn.
      continue;
    }
    // Noise bursts over the reply until its turn completes.
    if (!absl::GetFlag(FLAGS_bursts)) {
      client.WaitFor([&](const auto& events) { return HasEvent(events, completed(turn)); },
                     absl::Seconds(30));
    }
    while (!HasEvent(client.events(), completed(turn))) {
      const double dbfs = -35 + static_cast<double>(rng() % 16);
      const int ms = 100 + 20 * static_cast<int>(rng() % 13);  // 100..340 ms
      std::string burst;
      const int kind = static_cast<int>(rng() % 3);
      switch (kind) {
        case 0:
          burst = testing::WhiteNoisePcm16k(ms, dbfs, rng());
          break;
        case 1:
          burst = audio.Babble(rng, ms, dbfs);
          break;
        default:
          burst = Audio::Music(rng, ms, dbfs);
      }
      mic.WaitPlayed(mic.Play(PadToChunks(burst)));
      ++result.bursts;
      const int gap_chunks = 15 + static_cast<int>(rng() % 16);
      mic.WaitPlayed(mic.Play(std::string(kChunk * gap_chunks, '\0')));
      if (getenv("BENCH_DEBUG") != nullptr) {
        std::fprintf(
            stderr, "DEBUG call %d at %lld turn %d burst %s %d ms at %.0f dBFS, gap %d ms%s\n",
            index, static_cast<long long>(since(absl::Now())), turn,
            kind == 0   ? "white"
            : kind == 1 ? "babble"
                        : "music",
            ms, dbfs, 20 * gap_chunks,
            client.turn(turn) != nullptr && client.turn(turn)->interrupted() ? " -> INTERRUPTED"
                                                                             : "");
      }
    }
    // A burst the detector took for speech while no reply played (one that began as the reply
    // ended) made a turn of its own: wait for its reply too, and number the next question after
    // it (rather than asking it over that reply, and counting every later turn one off).
    int latest = turn;
    for (const TimedEvent& e : client.events()) {
      if (e.event.has_user_speech()) latest = std::max(latest, e.event.user_speech().turn_id());
    }
    for (++turn; turn <= latest; ++turn) {
      ++result.noise_turns;
      client.WaitFor([&](const auto& events) { return HasEvent(events, completed(turn)); },
                     absl::Seconds(30));
    }
    --turn;
    if (asked == turns) break;
    // A pause of 200-2000 ms, then the next question; some with a pause inside, shorter than
    // silence_ms (one utterance all the same).
    mic.Play(std::string(kChunk * (10 + rng() % 91), '\0'));
    const std::string& q =
        audio.questions[phrases_asked.emplace_back(rng() % audio.questions.size())];
    if (rng() % 3 == 0 && silence_ms > 300) {
      const size_t cut = (q.size() / 2) / kChunk * kChunk;
      const int pause_chunks = 10 + static_cast<int>(rng() % ((silence_ms - 200) / 20 - 9));
      mic.Play(q.substr(0, cut));
      mic.Play(std::string(kChunk * pause_chunks, '\0'));
      question_end = mic.WaitPlayed(mic.Play(q.substr(cut))).second;
    } else {
      question_end = mic.WaitPlayed(mic.Play(q)).second;
    }
    if (getenv("BENCH_DEBUG") != nullptr) {
      std::fprintf(stderr, "DEBUG call %d at %lld question %d (%zu ms) played\n", index,
                   static_cast<long long>(since(question_end)), asked + 1, q.size() / 32);
    }
  }
  const int last_turn = turn;
  // Let the last reply finish, then hang up.
  client.WaitFor([&](const auto& events) { return HasEvent(events, completed(last_turn)); },
                 absl::Seconds(30));
  mic.WaitPlayed(mic.Play(std::string(kChunk * 10, '\0')));
  mic.Stop();
  result.sent_bytes = static_cast<int64_t>(mic.bytes());
  client.CloseSend();
  const grpc::Status status = client.Finish();
  if (!status.ok()) fail(absl::StrCat("stream ended ", status.error_message()));
  if (result.ok && getenv("BENCH_DEBUG") != nullptr &&
      std::string(getenv("BENCH_DEBUG")) == "all") {
    dump();
  }

  int64_t recognised = 0;
  std::map<int, double> server_v2v;  // By turn.
  for (const TimedEvent& e : client.events()) {
    const v1::ConverseEvent& event = e.event;
    if (event.has_turn_completed()) {
      ++result.turns;
      const v1::TurnCompleted& t = event.turn_completed();
      int64_t bytes = 0;
      if (absl::SimpleAtoi(t.transcript(), &bytes)) recognised += bytes;
      const auto asked_as = std::find(asked_turns.begin(), asked_turns.end(), t.turn_id());
      if (!mock && asked_as != asked_turns.end()) {
        const auto [errors, words] =
            WordErrors(kPhrases[phrases_asked[asked_as - asked_turns.begin()]], t.transcript());
        result.word_errors += errors;
        result.reference_words += words;
      }
      if (getenv("BENCH_DEBUG") != nullptr) {
        std::fprintf(stderr, "DEBUG call %d turn %d heard \"%s\" interrupted %d v2v %lld\n", index,
                     t.turn_id(), t.transcript().c_str(), t.interrupted(),
                     (long long)t.latency().voice_to_voice_ms());
      }
      if (t.latency().voice_to_voice_ms() >= 0) {
        server_v2v[t.turn_id()] = static_cast<double>(t.latency().voice_to_voice_ms());
      }
    }
    if (event.has_telemetry()) {
      const auto& attributes = event.telemetry().attributes();
      const std::string& name = event.telemetry().name();
      if (name == "turn.reply_paused") ++result.pauses;
      if (name == "turn.reply_resumed") ++result.resumes;
      if (name == "turn.discarded" && attributes.count("reason") > 0 &&
          attributes.at("reason") == "the reply's own echo") {
        ++result.echo_discarded;
      }
      if (name == "input.accounting") {
        auto get = [&](const char* key) {
          int64_t v = 0;
          absl::SimpleAtoi(attributes.at(key), &v);
          return v;
        };
        result.pushed = get("pushed_bytes");
        result.in_utterances = get("utterance_bytes");
        result.dropped = get("silence_dropped_bytes");
        result.pending = get("pending_bytes");
      }
    }
  }
  if (mock) result.recognised_bytes = recognised;
  result.false_barge_ins = 0;
  for (const TimedEvent& e : client.Filter(Case::kTurnCompleted)) {
    if (e.event.turn_completed().interrupted()) ++result.false_barge_ins;
  }
  result.false_barge_ins -= result.barge_ins_confirmed;
  // Pair the server's and the caller's voice-to-voice question by question.
  for (size_t i = 0; i < result.v2v_client.size() && i < asked_turns.size(); ++i) {
    const auto server = server_v2v.find(asked_turns[i]);
    if (server == server_v2v.end()) continue;
    result.v2v_server.push_back(server->second);
    result.v2v_gap.push_back(std::abs(server->second - result.v2v_client[i]));
    if (getenv("BENCH_DEBUG") != nullptr && result.v2v_gap.back() > 30) {
      std::fprintf(stderr, "DEBUG call %d turn %d: server %.0f ms, caller %.0f ms%s\n", index,
                   asked_turns[i], server->second, result.v2v_client[i],
                   absl::GetFlag(FLAGS_talk_over_every) > 0 &&
                           (i + 1) % absl::GetFlag(FLAGS_talk_over_every) == 1 && i > 0
                       ? " (asked over the last reply)"
                       : "");
    }
  }
  return result;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

int Main() {
  const bool mock = absl::GetFlag(FLAGS_engines) == "mock";
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = tmp != nullptr ? tmp : "/tmp";
  std::ofstream(dir + "/bench_chat.textproto") << R"spec(
name: "bench_chat"
stages { name: "stt" kind: TRANSFORM type: "stt" }
stages { name: "prefetch_memory" kind: ENRICH type: "memory_fetch" }
stages {
  name: "llm" kind: AGENT type: "llm" depends_on: "stt" depends_on: "prefetch_memory"
  parameters { key: "default" value: "Let me think about that. Here is a longer answer, so that there is time to talk over it." }
}
stages { name: "tts" kind: TRANSFORM type: "tts" depends_on: "llm" streams_from: "llm" }
stages { name: "save_memory" kind: WORK type: "memory_write" depends_on: "llm" }
)spec";
  std::vector<std::string> stt_args = {"--provider=pocketsphinx"};
  std::vector<std::string> tts_args = {"--provider=espeak-ng"};
  if (mock) {
    stt_args = {"--provider=mock", "--mock_latency_ms=10", "--mock_latency_jitter_ms=0",
                "--mock_interim_every_ms=100", "--mock_transcriptions={bytes}"};
    tts_args = {"--provider=mock", "--mock_latency_ms=0", "--mock_bytes_per_char=640"};
  }
  auto stt = testing::ServerProcess::Start("services/stt/stt_server", stt_args);
  auto tts = testing::ServerProcess::Start("services/tts/tts_server", tts_args);
  if (!stt.ok() || !tts.ok()) {
    std::fprintf(stderr, "cannot start the speech services\n");
    return 1;
  }
  auto orchestrator =
      testing::ServerProcess::Start("services/orchestrator/orchestrator_server",
                                    {absl::StrCat("--stt_target=", (*stt)->address()),
                                     absl::StrCat("--tts_target=", (*tts)->address()),
                                     "--pipelines_dir=" + dir, "--log_level=warn"});
  if (!orchestrator.ok()) {
    std::fprintf(stderr, "cannot start the orchestrator: %s\n",
                 orchestrator.status().ToString().c_str());
    return 1;
  }

  Audio audio;
  for (testing::Noise noise : testing::AllNoises()) {
    if (absl::GetFlag(FLAGS_room) == testing::NoiseName(noise)) audio.room = noise;
  }
  if (audio.room == testing::Noise::kNone && absl::GetFlag(FLAGS_room) != "none") {
    std::fprintf(stderr, "--room: unknown noise %s\n", absl::GetFlag(FLAGS_room).c_str());
    return 1;
  }
  // The caller speaks at -20 dBFS (espeak-ng's own level is about 6 dB lower); the noise bursts
  // over replies are -35..-20 dBFS, up to the caller's level.
  double raw_dbfs = 0;
  for (const std::string& phrase : kPhrases) {
    const testing::Samples speech = testing::FromPcm16(testing::SpeechPcm16k(phrase));
    raw_dbfs += testing::RmsDbfs(speech) / kPhrases.size();
    audio.questions.push_back(PadToChunks(testing::ToPcm16(testing::AtLevel(speech, -20))));
    audio.babble_sources.push_back(Samples(audio.questions.back()));
  }
  std::fprintf(stderr, "questions: espeak-ng's level %.1f dBFS, played at -20 dBFS\n", raw_dbfs);
  const int sessions = absl::GetFlag(FLAGS_sessions);
  std::vector<CallResult> results(sessions);
  std::vector<std::thread> calls;
  const absl::Time start = absl::Now();
  for (int i = 0; i < sessions; ++i) {
    calls.emplace_back([&, i] {
      absl::SleepFor(absl::Milliseconds(97 * i));  // Staggered starts.
      results[i] = RunCall((*orchestrator)->address(), audio, i, mock);
    });
  }
  for (auto& call : calls) call.join();

  CallResult all;
  all.recognised_bytes = 0;
  int failed = 0;
  for (const CallResult& r : results) {
    if (!r.ok) {
      ++failed;
      std::fprintf(stderr, "call failed: %s\n", r.error.c_str());
    }
    for (std::vector<double> CallResult::*field :
         {&CallResult::v2v_client, &CallResult::v2v_server, &CallResult::v2v_gap,
          &CallResult::pause_delay_ms}) {
      (all.*field).insert((all.*field).end(), (r.*field).begin(), (r.*field).end());
    }
    all.turns += r.turns;
    all.expected_turns += r.expected_turns;
    all.noise_turns += r.noise_turns;
    all.echo_discarded += r.echo_discarded;
    all.bursts += r.bursts;
    all.false_barge_ins += r.false_barge_ins;
    all.pauses += r.pauses;
    all.resumes += r.resumes;
    all.barge_ins += r.barge_ins;
    all.barge_ins_confirmed += r.barge_ins_confirmed;
    all.frames_after_pause += r.frames_after_pause;
    all.sent_bytes += r.sent_bytes;
    all.pushed += r.pushed;
    all.in_utterances += r.in_utterances;
    all.dropped += r.dropped;
    all.pending += r.pending;
    all.recognised_bytes += std::max<int64_t>(r.recognised_bytes, 0);
    all.word_errors += r.word_errors;
    all.reference_words += r.reference_words;
  }
  const int silence_ms = absl::GetFlag(FLAGS_silence_ms);
  std::printf(
      "turn-taking bench: engines=%s sessions=%d turns/call=%d silence_ms=%d "
      "min_speech_ms=%d seed=%u room=%s at %.0f dBFS echo=%d ms %.0f dB down (%s) detector=%s "
      "bursts=%d talk_over_every=%d, %.0f s\n\n",
      mock ? "mock" : "real", sessions, absl::GetFlag(FLAGS_turns), silence_ms,
      absl::GetFlag(FLAGS_min_speech_ms), absl::GetFlag(FLAGS_seed), testing::NoiseName(audio.room),
      absl::GetFlag(FLAGS_room_dbfs), absl::GetFlag(FLAGS_echo_delay_ms),
      absl::GetFlag(FLAGS_echo_loss_db), absl::GetFlag(FLAGS_echo_cancellation).c_str(),
      absl::GetFlag(FLAGS_voice_detector).empty() ? "default"
                                                  : absl::GetFlag(FLAGS_voice_detector).c_str(),
      absl::GetFlag(FLAGS_bursts), absl::GetFlag(FLAGS_talk_over_every),
      absl::ToDoubleSeconds(absl::Now() - start));
  std::printf("| measure | value |\n|---|---|\n");
  std::printf("| calls completed / failed | %d / %d |\n", sessions - failed, failed);
  std::printf("| turns completed / scripted | %d / %d |\n", all.turns, all.expected_turns);
  std::printf("| of them turns of a burst between replies (no question) | %d |\n", all.noise_turns);
  std::printf("| utterances discarded as the reply's own echo (echo guard) | %d |\n",
              all.echo_discarded);
  const int64_t lost = all.sent_bytes - all.in_utterances - all.dropped;
  std::printf(
      "| input: sent / in utterances / silence let go / pending (bytes) | %lld / %lld / "
      "%lld / %lld |\n",
      (long long)all.sent_bytes, (long long)all.in_utterances, (long long)all.dropped,
      (long long)all.pending);
  std::printf("| input samples lost (sent - utterances - silence let go) | %lld |\n",
              (long long)lost / 2);
  if (mock) {
    std::printf("| utterance bytes the STT streams carried (mock {bytes}) | %lld |\n",
                (long long)all.recognised_bytes);
  }
  if (!mock) {
    std::printf(
        "| word accuracy (1 - word errors / words asked) | %.1f %% (%d errors in %d words) |\n",
        100.0 * (1 - double(all.word_errors) / std::max(all.reference_words, 1)), all.word_errors,
        all.reference_words);
  }
  std::printf("| voice-to-voice, caller-measured p50 / p99 (ms) | %.0f / %.0f |\n",
              Percentile(all.v2v_client, 0.5), Percentile(all.v2v_client, 0.99));
  std::printf("| voice-to-voice, server-reported p50 / p99 (ms) | %.0f / %.0f |\n",
              Percentile(all.v2v_server, 0.5), Percentile(all.v2v_server, 0.99));
  std::printf("| server vs caller, abs difference p50 / p99 (ms) | %.0f / %.0f |\n",
              Percentile(all.v2v_gap, 0.5), Percentile(all.v2v_gap, 0.99));
  int apart = 0;
  for (double gap : all.v2v_gap) apart += gap > 30;
  std::printf(
      "| turns where server and caller differ by > 30 ms / max difference (ms) | %d / %.0f "
      "|\n",
      apart, all.v2v_gap.empty() ? 0.0 : *std::max_element(all.v2v_gap.begin(), all.v2v_gap.end()));
  std::printf("| noise bursts over replies | %d |\n", all.bursts);
  std::printf("| reply pauses / resumes | %d / %d |\n", all.pauses, all.resumes);
  std::printf("| false barge-ins (interruptions not by scripted speech) | %d |\n",
              all.false_barge_ins);
  std::printf("| speech over a reply: interrupted / scripted | %d / %d |\n",
              all.barge_ins_confirmed, all.barge_ins);
  std::printf("| reply frames sent after the pause | %d |\n", all.frames_after_pause);
  std::printf("| speech start sent -> reply paused, p50 / p99 (ms) | %.0f / %.0f |\n",
              Percentile(all.pause_delay_ms, 0.5), Percentile(all.pause_delay_ms, 0.99));
  return failed == 0 && lost == 0 ? 0 : 1;
}

}  // namespace
}  // namespace voxflow::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  return voxflow::bench::Main();
}
