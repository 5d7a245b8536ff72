// Load benchmark: N concurrent conversations through the orchestrator (mock STT and TTS services
// with zero latency), against the same traffic through a bare gRPC relay to an echo server.
//
// Each session streams 20 ms chunks of speech-like audio at real time, ends each utterance with
// END_OF_INPUT, waits for the reply, and does this for several turns. Measured:
// - per-chunk latency: chunk sent -> its effect back at the client. Orchestrator: the mock STT
//   reveals one more interim word per 20 ms of audio, so interim k answers chunk k. A turn starts
//   once the voice activity detector has heard min_speech_ms of speech (UserSpeech STARTED): the
//   chunks before it can have no effect earlier, and are measured from that event. Relay: the
//   echoed chunk itself.
// - voice-to-voice: END_OF_INPUT sent -> first reply audio received (relay: the echoed end
//   marker). With zero-latency engines this is the orchestration cost.
// - output underruns: a reply chunk arriving after a client that started playing at the first
//   reply byte would have needed it.
// - CPU seconds per session-minute and resident memory per session of the server process.
// The load generator, the servers and their backends share this machine.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/util/percentile.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_callback.h"
#include "tests/util/server_process.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

ABSL_FLAG(std::vector<std::string>, sessions,
          std::vector<std::string>({"50", "100", "150", "200", "400", "1000"}),
          "Concurrent sessions to run, one run per value (the sweep).");
ABSL_FLAG(int, turns, 3, "Turns per session.");
ABSL_FLAG(std::string, profile, "chunk",
          "chunk: an interim per 20 ms chunk, --speech_ms utterances, 580 ms replies (the "
          "per-chunk round trip, every chunk). realistic: an interim per 200 ms, utterances of "
          "3-8 s (seeded per session and turn), 1.2 s replies.");
ABSL_FLAG(int, speech_ms, 1000, "User speech per turn.");
ABSL_FLAG(int, late_chunk_ms, 100,
          "A session is not at real time if any chunk's round trip exceeds this.");
ABSL_FLAG(int, connections, 8, "Client connections the sessions are spread over.");
ABSL_FLAG(std::vector<std::string>, orchestrator_flags, {},
          "Extra orchestrator flags, comma-separated (e.g. --voice_detector=webrtc).");
ABSL_FLAG(bool, baseline, true, "Also run the bare relay for each N.");
ABSL_FLAG(bool, stop_at_first_miss, false, "End the sweep at the first N not held at real time.");

namespace voxflow::bench {
namespace {

constexpr int kChunkMs = 20;
constexpr int kSampleRate = 16000;
constexpr size_t kChunkBytes = kSampleRate / 1000 * kChunkMs * 2;
// Reply: 29 characters, 640 bytes (20 ms) of mock TTS audio each: 580 ms of reply per turn.
constexpr char kReply[] = "Okay, that sounds good to me.";
// The realistic profile's: 61 characters, 1.22 s.
constexpr char kLongReply[] = "Okay, that sounds good to me. I will book it for you at once.";
constexpr int kTtsBytesPerChar = 640;
constexpr int kTranscriptWords = 400;  // More words than chunks in an utterance.

enum class Mode { kOrchestrator, kRelay };

// Speech-like audio: a 120 Hz voice with harmonics, in 4 Hz syllables (-20 dBFS peaks).
std::string SpeechLikeAudio(int ms) {
  std::string pcm;
  const int samples = kSampleRate / 1000 * ms;
  for (int i = 0; i < samples; ++i) {
    const double t = static_cast<double>(i) / kSampleRate;
    const double syllable = 0.5 - 0.5 * std::cos(2 * M_PI * 4 * t);
    double v = 0;
    for (int h = 1; h <= 5; ++h) v += std::sin(2 * M_PI * 120 * h * t) / h;
    const auto s = static_cast<int16_t>(3000 * syllable * v / 2.3);
    pcm.push_back(static_cast<char>(s & 0xff));
    pcm.push_back(static_cast<char>((s >> 8) & 0xff));
  }
  return pcm;
}

std::string TranscriptText() {
  std::vector<std::string> words;
  for (int i = 0; i < kTranscriptWords; ++i) words.push_back(absl::StrCat("w", i));
  return absl::StrJoin(words, " ");
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

struct SessionResult {
  std::vector<double> chunk_ms;       // Per-chunk round trips.
  std::vector<double> v2v_ms;         // Client-side voice-to-voice.
  std::vector<double> server_v2v_ms;  // TurnCompleted.latency.voice_to_voice_ms.
  // The rest of TurnCompleted.latency: where voice-to-voice went.
  std::vector<double> eos_to_final_ms, llm_first_token_ms, tts_first_byte_ms;
  int underruns = 0;
  int turns = 0;
  int wrong_transcripts = 0;
  int errors = 0;
  grpc::Status status;
};

class Latch {
 public:
  explicit Latch(int count) : count_(count) {}
  void CountDown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--count_ == 0) done_.notify_all();
  }
  bool Wait(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return done_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return count_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable done_;
  int count_;
};

struct Script {
  Mode mode;
  int turns;
  std::string speech;  // One utterance (realistic: the longest; a turn speaks a prefix of it).
  std::string transcript;
  bool realistic = false;
  int chunks_per_interim = 1;  // Interim k answers chunk k * chunks_per_interim - 1.
};

bool Realistic() { return absl::GetFlag(FLAGS_profile) == "realistic"; }

class LoadSession : public grpc::ClientBidiReactor<v1::ConverseRequest, v1::ConverseEvent> {
 public:
  LoadSession(const Script* script, Latch* done, absl::Time speak_at, uint32_t seed)
      : script_(script), done_(done), speak_at_(speak_at), random_(seed) {
    ChooseUtteranceLocked();
  }

  void Start(v1::Orchestrator::Stub* stub) {
    stub->async()->Converse(&context_, this);
    v1::ConverseRequest config;
    v1::SessionConfig* c = config.mutable_config();
    for (v1::AudioStreamFormat* f : {c->mutable_input_format(), c->mutable_output_format()}) {
      f->set_format(v1::PCM16);
      f->set_sample_rate(kSampleRate);
      f->set_channels(1);
    }
    c->set_interim_results(true);
    if (script_->mode == Mode::kOrchestrator) c->set_pipeline("bench");
    {
      std::lock_guard<std::mutex> lock(mu_);
      WriteLocked(std::move(config));
    }
    StartRead(&event_);
    StartCall();
  }

  // From the ticker, every 20 ms: the microphone produced a chunk.
  void Tick(absl::Time now) {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != State::kSpeaking || now < speak_at_) return;
    if (chunk_ < turn_chunks_) {
      v1::ConverseRequest request;
      v1::AudioChunk* audio = request.mutable_audio();
      audio->set_data(script_->speech.substr(chunk_ * kChunkBytes, kChunkBytes));
      audio->set_format(v1::PCM16);
      audio->set_sample_rate(kSampleRate);
      audio->set_channels(1);
      audio->set_sequence(sequence_);
      sent_at_[sequence_] = now;
      turn_sent_.push_back(now);
      ++sequence_;
      ++chunk_;
      WriteLocked(std::move(request));
      return;
    }
    v1::ConverseRequest end;
    end.mutable_control()->set_type(v1::Control::END_OF_INPUT);
    end_of_speech_ = now;
    first_reply_ = absl::InfinitePast();
    state_ = State::kWaiting;
    WriteLocked(std::move(end));
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) return;
    if (!pending_.empty()) {
      v1::ConverseRequest next = std::move(pending_.front());
      pending_.erase(pending_.begin());
      StartWriteLocked(std::move(next));
    } else if (close_when_written_) {
      close_when_written_ = false;
      StartWritesDone();
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    const absl::Time now = absl::Now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      Handle(event_, now);
    }
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      result_.status = status;
    }
    done_->CountDown();
  }

  void Cancel() { context_.TryCancel(); }

  SessionResult result() {
    std::lock_guard<std::mutex> lock(mu_);
    return result_;
  }

 private:
  enum class State { kSpeaking, kWaiting, kClosed };

  void WriteLocked(v1::ConverseRequest request) {
    if (writing_) {
      pending_.push_back(std::move(request));
      return;
    }
    StartWriteLocked(std::move(request));
  }
  void StartWriteLocked(v1::ConverseRequest request) {
    out_ = std::move(request);
    writing_ = true;
    StartWrite(&out_);
  }

  void Handle(const v1::ConverseEvent& event, absl::Time now) {
    switch (event.event_case()) {
      case v1::ConverseEvent::kTranscript: {
        const v1::TranscriptEvent& t = event.transcript();
        if (t.is_final()) {
          if (t.text() != script_->transcript) ++result_.wrong_transcripts;
          break;
        }
        // Interim k (k words) answers chunk k * chunks_per_interim of this utterance.
        const size_t words =
            static_cast<size_t>(std::count(t.text().begin(), t.text().end(), ' ')) + 1;
        const size_t per = static_cast<size_t>(script_->chunks_per_interim);
        if (words > answered_ && words * per <= turn_sent_.size()) {
          for (size_t k = answered_; k < words; ++k) {
            const absl::Time sent = turn_sent_[(k + 1) * per - 1];
            result_.chunk_ms.push_back(Ms(now - std::max(sent, speech_started_)));
          }
          answered_ = words;
        }
        break;
      }
      case v1::ConverseEvent::kUserSpeech:
        if (event.user_speech().type() == v1::UserSpeech::STARTED) speech_started_ = now;
        break;
      case v1::ConverseEvent::kReplyAudio: {
        const v1::AudioChunk& audio = event.reply_audio().audio();
        if (script_->mode == Mode::kRelay) {
          auto it = sent_at_.find(audio.sequence());
          if (it != sent_at_.end()) {
            result_.chunk_ms.push_back(Ms(now - it->second));
            sent_at_.erase(it);
          }
          break;
        }
        if (first_reply_ == absl::InfinitePast()) {
          first_reply_ = now;
          reply_audio_ms_ = 0;
          result_.v2v_ms.push_back(Ms(now - end_of_speech_));
        } else if (now > first_reply_ + absl::Milliseconds(reply_audio_ms_)) {
          ++result_.underruns;  // A player started at the first byte would have run dry.
        }
        reply_audio_ms_ += static_cast<double>(audio.data().size()) / (kSampleRate / 1000 * 2);
        break;
      }
      case v1::ConverseEvent::kTurnCompleted: {
        if (script_->mode == Mode::kRelay) {
          result_.v2v_ms.push_back(Ms(now - end_of_speech_));
        } else {
          const v1::LatencyBreakdown& latency = event.turn_completed().latency();
          result_.server_v2v_ms.push_back(static_cast<double>(latency.voice_to_voice_ms()));
          result_.eos_to_final_ms.push_back(
              static_cast<double>(latency.end_of_speech_to_final_transcript_ms()));
          result_.llm_first_token_ms.push_back(static_cast<double>(latency.llm_first_token_ms()));
          result_.tts_first_byte_ms.push_back(static_cast<double>(latency.tts_first_byte_ms()));
        }
        ++result_.turns;
        // A turn beyond the script's (the server split an utterance) is counted, and the session
        // fails; the stream is already closing.
        if (state_ != State::kClosed) NextTurnLocked();
        break;
      }
      case v1::ConverseEvent::kError:
        ++result_.errors;
        break;
      default:
        break;
    }
  }

  // How much of the script's speech this turn says.
  void ChooseUtteranceLocked() {
    const size_t longest = script_->speech.size() / kChunkBytes;
    if (!script_->realistic) {
      turn_chunks_ = longest;
      return;
    }
    std::uniform_int_distribution<size_t> chunks(3000 / kChunkMs, 8000 / kChunkMs);
    turn_chunks_ = std::min(longest, chunks(random_));
  }

  void NextTurnLocked() {
    chunk_ = 0;
    ChooseUtteranceLocked();
    answered_ = 0;
    turn_sent_.clear();
    speech_started_ = absl::InfinitePast();
    if (result_.turns < script_->turns) {
      state_ = State::kSpeaking;
      return;
    }
    state_ = State::kClosed;
    if (writing_) {
      close_when_written_ = true;
    } else {
      StartWritesDone();
    }
  }

  const Script* script_;
  Latch* done_;
  const absl::Time speak_at_;
  grpc::ClientContext context_;
  v1::ConverseEvent event_;
  std::mutex mu_;
  v1::ConverseRequest out_;
  std::vector<v1::ConverseRequest> pending_;
  bool writing_ = false;
  bool close_when_written_ = false;
  State state_ = State::kSpeaking;
  size_t chunk_ = 0;
  size_t turn_chunks_ = 0;  // Chunks of this turn's utterance.
  std::mt19937 random_;
  uint64_t sequence_ = 1;
  std::map<uint64_t, absl::Time> sent_at_;            // Relay: chunks not echoed yet.
  std::vector<absl::Time> turn_sent_;                 // This utterance's chunks.
  absl::Time speech_started_ = absl::InfinitePast();  // This utterance's UserSpeech STARTED.
  size_t answered_ = 0;
  absl::Time end_of_speech_;
  absl::Time first_reply_ = absl::InfinitePast();
  double reply_audio_ms_ = 0;
  SessionResult result_;
};

// /proc figures of one process.
struct ProcessSample {
  double cpu_s = 0;
  double rss_mb = 0;
  int threads = 0;
};

ProcessSample SampleProcess(pid_t pid) {
  ProcessSample sample;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(stat, line);
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const size_t close = line.rfind(')');
  if (close != std::string::npos) {
    std::vector<std::string> fields = absl::StrSplit(line.substr(close + 2), ' ');
    if (fields.size() > 13) {
      const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      sample.cpu_s = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
    }
  }
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) sample.rss_mb = std::stod(line.substr(6)) / 1024.0;
    if (line.rfind("Threads:", 0) == 0) sample.threads = std::stoi(line.substr(8));
  }
  return sample;
}

struct RunResult {
  int sessions = 0;
  int held = 0;  // Sessions that stayed at real time.
  int failed = 0;
  double chunk_p50 = NAN, chunk_p99 = NAN;
  double v2v_p50 = NAN, v2v_p99 = NAN;
  double server_v2v_p99 = NAN;
  // p50/p99 of the server's breakdown: end of speech -> final transcript, llm first token, tts
  // first byte.
  double eos_p50 = NAN, eos_p99 = NAN, llm_p50 = NAN, llm_p99 = NAN, tts_p50 = NAN, tts_p99 = NAN;
  int underruns = 0;
  double cpu_s_per_session_min = NAN;
  double backend_cpu_s_per_session_min = NAN;
  double rss_mb_per_session = NAN;
  int peak_threads = 0;
  double ticker_lag_p99 = NAN;
  double wall_s = 0;
  double generator_cpu_s = 0;
};

// Runs `n` sessions against `target`; `server` and `backends` are measured.
RunResult Run(Mode mode, int n, const std::string& target, pid_t server,
              const std::vector<pid_t>& backends) {
  const bool realistic = Realistic();
  Script script{mode,
                absl::GetFlag(FLAGS_turns),
                SpeechLikeAudio(realistic ? 8000 : absl::GetFlag(FLAGS_speech_ms)),
                TranscriptText(),
                realistic,
                realistic ? 200 / kChunkMs : 1};
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::Orchestrator::Stub>> stubs;
  for (int i = 0; i < absl::GetFlag(FLAGS_connections); ++i) {
    grpc::ChannelArguments args;
    args.SetInt("voxflow.bench.connection", i);  // Distinct args: a connection of its own.
    channels.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
    channels.back()->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    stubs.push_back(v1::Orchestrator::NewStub(channels.back()));
  }

  const ProcessSample server_before = SampleProcess(server);
  double backends_before = 0;
  for (pid_t pid : backends) backends_before += SampleProcess(pid).cpu_s;
  const ProcessSample self_before = SampleProcess(getpid());

  // Sessions start speaking at random moments of the first utterance's length (seeded).
  std::mt19937 random(42);
  std::uniform_int_distribution<int> offset_ms(0, absl::GetFlag(FLAGS_speech_ms));
  Latch done(n);
  const absl::Time start = absl::Now();
  std::vector<std::unique_ptr<LoadSession>> sessions;
  for (int i = 0; i < n; ++i) {
    sessions.push_back(std::make_unique<LoadSession>(
        &script, &done, start + absl::Milliseconds(offset_ms(random)), static_cast<uint32_t>(i)));
  }
  for (int i = 0; i < n; ++i) sessions[i]->Start(stubs[i % stubs.size()].get());

  // The microphones: a 1 ms wheel of 20 slots; session i speaks in slot i % 20.
  std::atomic<bool> stop{false};
  std::vector<double> lags;
  ProcessSample peak;
  std::thread ticker([&] {
    int64_t k = 0;
    while (!stop.load()) {
      const absl::Time due = start + absl::Milliseconds(k);
      absl::SleepFor(due - absl::Now());
      const absl::Time now = absl::Now();
      lags.push_back(Ms(now - due));
      for (size_t i = static_cast<size_t>(k % kChunkMs); i < sessions.size(); i += kChunkMs) {
        sessions[i]->Tick(now);
      }
      if (k % 100 == 0) {
        const ProcessSample s = SampleProcess(server);
        peak.rss_mb = std::max(peak.rss_mb, s.rss_mb);
        peak.threads = std::max(peak.threads, s.threads);
      }
      ++k;
    }
  });
  const double expected_s = absl::GetFlag(FLAGS_turns) *
                            ((realistic ? 8000 : absl::GetFlag(FLAGS_speech_ms)) + 2000) / 1000.0;
  const bool all_done = done.Wait(absl::Seconds(expected_s * 4 + 30));
  stop = true;
  ticker.join();
  const absl::Duration wall = absl::Now() - start;

  RunResult r;
  r.sessions = n;
  r.wall_s = absl::ToDoubleSeconds(wall);
  const ProcessSample server_after = SampleProcess(server);
  double backends_after = 0;
  for (pid_t pid : backends) backends_after += SampleProcess(pid).cpu_s;
  r.generator_cpu_s = SampleProcess(getpid()).cpu_s - self_before.cpu_s;
  const double session_minutes = n * r.wall_s / 60.0;
  r.cpu_s_per_session_min = (server_after.cpu_s - server_before.cpu_s) / session_minutes;
  r.backend_cpu_s_per_session_min = (backends_after - backends_before) / session_minutes;
  r.rss_mb_per_session = (peak.rss_mb - server_before.rss_mb) / n;
  r.peak_threads = peak.threads;
  r.ticker_lag_p99 = Percentile(lags, 0.99);

  std::vector<double> chunk, v2v, server_v2v, eos, llm, tts;
  const int late_ms = absl::GetFlag(FLAGS_late_chunk_ms);
  for (auto& session : sessions) {
    if (!all_done) session->Cancel();
  }
  if (!all_done) done.Wait(absl::Seconds(30));
  for (auto& session : sessions) {
    const SessionResult s = session->result();
    chunk.insert(chunk.end(), s.chunk_ms.begin(), s.chunk_ms.end());
    v2v.insert(v2v.end(), s.v2v_ms.begin(), s.v2v_ms.end());
    server_v2v.insert(server_v2v.end(), s.server_v2v_ms.begin(), s.server_v2v_ms.end());
    eos.insert(eos.end(), s.eos_to_final_ms.begin(), s.eos_to_final_ms.end());
    llm.insert(llm.end(), s.llm_first_token_ms.begin(), s.llm_first_token_ms.end());
    tts.insert(tts.end(), s.tts_first_byte_ms.begin(), s.tts_first_byte_ms.end());
    r.underruns += s.underruns;
    const bool complete =
        s.status.ok() && s.turns == script.turns && s.wrong_transcripts == 0 && s.errors == 0;
    if (!complete) ++r.failed;
    const double worst =
        s.chunk_ms.empty() ? 1e9 : *std::max_element(s.chunk_ms.begin(), s.chunk_ms.end());
    if (complete && s.underruns == 0 && worst <= late_ms) ++r.held;
  }
  r.chunk_p50 = Percentile(chunk, 0.50);
  r.chunk_p99 = Percentile(chunk, 0.99);
  r.v2v_p50 = Percentile(v2v, 0.50);
  r.v2v_p99 = Percentile(v2v, 0.99);
  r.server_v2v_p99 = Percentile(server_v2v, 0.99);
  r.eos_p50 = Percentile(eos, 0.5);
  r.eos_p99 = Percentile(eos, 0.99);
  r.llm_p50 = Percentile(llm, 0.5);
  r.llm_p99 = Percentile(llm, 0.99);
  r.tts_p50 = Percentile(tts, 0.5);
  r.tts_p99 = Percentile(tts, 0.99);
  // Sessions must be destroyed after OnDone; all_done (or the second wait) ensured that.
  return r;
}

std::unique_ptr<testing::ServerProcess> Start(const std::string& binary,
                                              const std::vector<std::string>& args) {
  auto process = testing::ServerProcess::Start(binary, args);
  if (!process.ok()) {
    std::fprintf(stderr, "cannot start %s: %s\n", binary.c_str(),
                 process.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(process);
}

std::string Cell(double v, const char* format = "%.1f") {
  return std::isnan(v) ? std::string("-") : absl::StrFormat(format, v);
}

void PrintRow(const char* name, const RunResult& r) {
  std::printf(
      "| %-12s | %5d | %5d | %4d | %7s / %7s | %7s / %7s | %6s | %5d | %6s | %6s | %6s | %5d | %5s "
      "|\n",
      name, r.sessions, r.held, r.failed, Cell(r.chunk_p50, "%.2f").c_str(),
      Cell(r.chunk_p99, "%.2f").c_str(), Cell(r.v2v_p50, "%.2f").c_str(),
      Cell(r.v2v_p99, "%.2f").c_str(), Cell(r.server_v2v_p99, "%.0f").c_str(), r.underruns,
      Cell(r.cpu_s_per_session_min, "%.3f").c_str(),
      Cell(r.backend_cpu_s_per_session_min, "%.3f").c_str(),
      Cell(r.rss_mb_per_session, "%.3f").c_str(), r.peak_threads,
      Cell(r.ticker_lag_p99, "%.1f").c_str());
  std::fflush(stdout);
}

int Main() {
  const std::string pipelines_dir =
      absl::StrCat(std::getenv("TEST_TMPDIR") != nullptr ? std::getenv("TEST_TMPDIR") : "/tmp",
                   "/voxflow_load_bench_pipelines_", getpid());
  mkdir(pipelines_dir.c_str(), 0755);
  // voice_chat's shape with one short reply for every transcript.
  std::ofstream(pipelines_dir + "/bench.textproto")
      << absl::StrCat(R"spec(
name: "bench"
stages { name: "stt" kind: TRANSFORM type: "stt" failure_policy: DEGRADE fallback_output { key: "transcript" value: "" } }
stages { name: "prefetch_memory" kind: ENRICH type: "memory_fetch" failure_policy: CONTINUE }
stages { name: "llm" kind: AGENT type: "llm" depends_on: "stt" depends_on: "prefetch_memory"
         parameters { key: "default" value: ")spec",
                      Realistic() ? kLongReply : kReply,
                      R"spec(" } }
stages { name: "tts" kind: TRANSFORM type: "tts" depends_on: "llm" streams_from: "llm" }
stages { name: "save_memory" kind: WORK type: "memory_write" depends_on: "llm" failure_policy: CONTINUE }
)spec");

  auto stt = Start("services/stt/stt_server",
                   {"--provider=mock", "--mock_latency_ms=0", "--mock_latency_jitter_ms=0",
                    absl::StrCat("--mock_transcriptions=", TranscriptText()),
                    Realistic() ? "--mock_interim_every_ms=200" : "--mock_interim_every_ms=20",
                    "--max_streams=100000", "--log_level=warn"});
  auto tts =
      Start("services/tts/tts_server", {"--provider=mock", "--mock_latency_ms=0",
                                        absl::StrCat("--mock_bytes_per_char=", kTtsBytesPerChar),
                                        "--max_streams=100000", "--log_level=warn"});
  std::vector<std::string> orchestrator_args = {
      absl::StrCat("--stt_target=", stt->address()), absl::StrCat("--tts_target=", tts->address()),
      "--pipelines_dir=" + pipelines_dir, "--max_sessions=100000", "--log_level=warn"};
  for (const std::string& flag : absl::GetFlag(FLAGS_orchestrator_flags)) {
    orchestrator_args.push_back(flag);
  }
  auto orchestrator = Start("services/orchestrator/orchestrator_server", orchestrator_args);
  auto echo = Start("bench/load/relay_baseline", {"--role=echo", "--log_level=warn"});
  auto relay =
      Start("bench/load/relay_baseline",
            {"--role=relay", absl::StrCat("--echo_target=", echo->address()), "--log_level=warn"});

  const char* reply = Realistic() ? kLongReply : kReply;
  std::printf(
      "Load (%s profile): %d turns of %s speech per session, 20 ms chunks at real time, an "
      "interim per %d ms; reply %zu chars = %d ms of audio. %u cores shared by the load "
      "generator and all servers.\n\n",
      absl::GetFlag(FLAGS_profile).c_str(), absl::GetFlag(FLAGS_turns),
      Realistic() ? "3-8 s" : absl::StrCat(absl::GetFlag(FLAGS_speech_ms), " ms").c_str(),
      Realistic() ? 200 : 20, std::strlen(reply),
      static_cast<int>(std::strlen(reply)) * kTtsBytesPerChar / 32,
      std::thread::hardware_concurrency());
  std::printf(
      "| system       |     N |  held | fail | chunk p50 / p99 ms | v2v p50 / p99 ms   | srv v2v "
      "p99 | under | cpu s/sess-min | backend cpu | MB/sess | thr | gen lag p99 |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  int largest_held = 0;
  std::vector<RunResult> breakdowns;
  for (const std::string& value : absl::GetFlag(FLAGS_sessions)) {
    const int n = std::stoi(value);
    const RunResult o = Run(Mode::kOrchestrator, n, orchestrator->address(), orchestrator->pid(),
                            {stt->pid(), tts->pid()});
    PrintRow("orchestrator", o);
    breakdowns.push_back(o);
    if (absl::GetFlag(FLAGS_baseline)) {
      const RunResult b = Run(Mode::kRelay, n, relay->address(), relay->pid(), {echo->pid()});
      PrintRow("bare relay", b);
      std::printf("| ratio        |       |       |      | %7s / %7s | %7s / %7s |\n",
                  Cell(o.chunk_p50 / b.chunk_p50, "%.2fx").c_str(),
                  Cell(o.chunk_p99 / b.chunk_p99, "%.2fx").c_str(),
                  Cell(o.v2v_p50 / b.v2v_p50, "%.2fx").c_str(),
                  Cell(o.v2v_p99 / b.v2v_p99, "%.2fx").c_str());
    }
    if (o.held == n) largest_held = n;
    if (o.held != n && absl::GetFlag(FLAGS_stop_at_first_miss)) break;
  }
  std::printf(
      "\nWhere the orchestrator's voice-to-voice goes (its TurnCompleted breakdown, ms, "
      "p50 / p99):\n\n| N | end of speech -> final transcript | llm first token | tts "
      "first byte |\n|---|---|---|---|\n");
  for (const RunResult& o : breakdowns) {
    std::printf("| %d | %s / %s | %s / %s | %s / %s |\n", o.sessions,
                Cell(o.eos_p50, "%.0f").c_str(), Cell(o.eos_p99, "%.0f").c_str(),
                Cell(o.llm_p50, "%.0f").c_str(), Cell(o.llm_p99, "%.0f").c_str(),
                Cell(o.tts_p50, "%.0f").c_str(), Cell(o.tts_p99, "%.0f").c_str());
  }
  std::printf("\nLargest N held at real time with zero underruns: %d\n", largest_held);
  return 0;
}

}  // namespace
}  // namespace voxflow::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  return voxflow::bench::Main();
}
