// ConverseSession without gRPC: a fake voice activity detector (loud samples are voice), fake stt,
// llm and tts stages over the TurnEnvironment, real listening, turns and playout (Pipecat's
// run_test shape: one processor driven in-process).
#include "services/orchestrator/converse_session.h"

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/orchestrator/pipeline/pipeline_spec_loader.h"
#include "services/orchestrator/session_ticker.h"
#include "services/orchestrator/testing/fake_session_stages.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
constexpr absl::Duration kDeadline = absl::Seconds(20);

using testing::FakeReply;
using testing::FakeStt;
using testing::kChunk;
using testing::LockProbe;
using testing::LoudnessVad;
using testing::Silence;
using testing::Voice;
using testing::WatchingStt;

class Harness {
 public:
  explicit Harness(int reply_ms = 400) {
    registry_ = testing::FakePipelines();
    services_.pipelines = registry_.get();
    services_.memory = &memory_;
    services_.vad_factory = testing::LoudnessVadFactory();
    services_.stage_factories = [reply_ms](TurnEnvironment* turn) {
      StageFactories factories;
      factories["stt"] = [turn](const v1::StageSpec&) { return std::make_unique<FakeStt>(turn); };
      factories["reply"] = [turn, reply_ms](const v1::StageSpec&) {
        return std::make_unique<FakeReply>(turn, reply_ms);
      };
      return factories;
    };
  }
  ~Harness() { Close(); }
  void Close() {
    if (session_ != nullptr) session_->Close();
  }

  SessionServices& services() { return services_; }
  ConverseSession* session() { return session_.get(); }

  absl::Status Start(v1::SessionConfig config) {
    config.mutable_input_format()->set_format(v1::PCM16);
    config.mutable_input_format()->set_sample_rate(16000);
    config.mutable_input_format()->set_channels(1);
    *config.mutable_output_format() = config.input_format();
    config.set_telemetry(true);
    session_ = ConverseSession::Create(
        services_,
        [this](v1::ConverseEvent event) {
          std::lock_guard<std::mutex> lock(mu_);
          events_.push_back(std::move(event));
          changed_.notify_all();
        },
        [this](const absl::Status& status) {
          std::lock_guard<std::mutex> lock(mu_);
          ended_ = status;
          changed_.notify_all();
        });
    std::weak_ptr<ConverseSession> weak = session_;
    session_->SetTickWaker([this, weak] {
      ticker_.Add([weak](absl::Time now) {
        auto session = weak.lock();
        return session != nullptr && session->Tick(now);
      });
    });
    v1::ConverseRequest request;
    *request.mutable_config() = config;
    return session_->HandleRequest(request);
  }

  // Pushes `pcm` as 20 ms chunks, as fast as the session takes them (stream time is what counts).
  void Push(const std::string& pcm) {
    for (size_t at = 0; at < pcm.size(); at += kChunk) {
      v1::ConverseRequest request;
      v1::AudioChunk* audio = request.mutable_audio();
      audio->set_data(pcm.substr(at, kChunk));
      audio->set_format(v1::PCM16);
      audio->set_sample_rate(16000);
      audio->set_channels(1);
      audio->set_sequence(++sequence_);
      ASSERT_TRUE(session_->HandleRequest(request).ok());
      pushed_ += kChunk;
    }
  }
  // One chunk with an explicit sequence number.
  void PushChunk(uint64_t sequence, const std::string& pcm) {
    v1::ConverseRequest request;
    v1::AudioChunk* audio = request.mutable_audio();
    audio->set_data(pcm);
    audio->set_format(v1::PCM16);
    audio->set_sample_rate(16000);
    audio->set_channels(1);
    audio->set_sequence(sequence);
    ASSERT_TRUE(session_->HandleRequest(request).ok());
  }
  // Pushes at real time (for tests where the reply must be playing).
  void PushRealTime(const std::string& pcm) {
    absl::Time next = absl::Now();
    for (size_t at = 0; at < pcm.size(); at += kChunk) {
      absl::SleepFor(next - absl::Now());
      next += absl::Milliseconds(20);
      Push(pcm.substr(at, kChunk));
    }
  }
  absl::Status HandleRequest(const v1::ConverseRequest& request) {
    return session_->HandleRequest(request);
  }
  void Control(v1::Control::Type type) {
    v1::ConverseRequest request;
    request.mutable_control()->set_type(type);
    ASSERT_TRUE(session_->HandleRequest(request).ok());
  }
  // Half-closes and waits for the end of the stream.
  absl::Status End() {
    EXPECT_TRUE(session_->HandleEndOfInput().ok());
    return WaitForEnd();
  }
  // The stream's end, without half-closing.
  absl::Status WaitForEnd() {
    std::unique_lock<std::mutex> lock(mu_);
    EXPECT_TRUE(changed_.wait_for(lock, absl::ToChronoMilliseconds(kDeadline),
                                  [&] { return ended_.has_value(); }));
    return ended_.value_or(absl::DeadlineExceededError("no end"));
  }
  bool WaitFor(const std::function<bool(const std::vector<v1::ConverseEvent>&)>& done) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, absl::ToChronoMilliseconds(kDeadline),
                             [&] { return done(events_); });
  }
  bool WaitForReplyFrames(int n) {
    return WaitFor([n](const std::vector<v1::ConverseEvent>& events) {
      int frames = 0;
      for (const auto& e : events) frames += e.has_reply_audio();
      return frames >= n;
    });
  }
  std::vector<v1::ConverseEvent> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::vector<v1::TurnCompleted> turns() {
    std::vector<v1::TurnCompleted> turns;
    for (const auto& e : events()) {
      if (e.has_turn_completed()) turns.push_back(e.turn_completed());
    }
    return turns;
  }
  int Telemetry(const std::string& name) {
    int n = 0;
    for (const auto& e : events()) n += e.has_telemetry() && e.telemetry().name() == name;
    return n;
  }
  // Every byte pushed is in one utterance or in the silence let go; `unanswered` bytes were in
  // utterances without words (no TurnCompleted to count them from).
  void ExpectNothingLost(uint64_t unanswered = 0) {
    const InputAccounting a = session_->input_accounting();
    EXPECT_EQ(a.pushed, pushed_);
    EXPECT_EQ(a.pending, 0u);
    EXPECT_EQ(a.in_utterances + a.silence_dropped, pushed_);
    uint64_t recognised = 0;
    for (const v1::TurnCompleted& turn : turns()) {
      uint64_t bytes = 0;
      if (absl::SimpleAtoi(turn.transcript().substr(0, turn.transcript().find(' ')), &bytes)) {
        recognised += bytes;
      }
    }
    EXPECT_EQ(recognised + unanswered, a.in_utterances)
        << "each utterance reached its stt stage whole";
  }

 private:
  InProcessMemory memory_;
  std::unique_ptr<PipelineRegistry> registry_;
  SessionServices services_;
  SessionTicker ticker_;
  std::shared_ptr<ConverseSession> session_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<v1::ConverseEvent> events_;
  std::optional<absl::Status> ended_;
  uint64_t sequence_ = 0;
  uint64_t pushed_ = 0;
};

v1::SessionConfig Endpointing(int silence_ms, int min_speech_ms = 100) {
  v1::SessionConfig config;
  config.mutable_endpointing()->set_silence_ms(silence_ms);
  config.mutable_endpointing()->set_min_speech_ms(min_speech_ms);
  return config;
}

TEST(ConverseSessionTest, APauseShorterThanSilenceMsIsOneTurnAndLongerIsTwo) {
  for (auto [silence_ms, turns] : {std::pair{1000, 1}, std::pair{300, 2}}) {
    Harness h;
    ASSERT_TRUE(h.Start(Endpointing(silence_ms)).ok());
    h.Push(Silence(500) + Voice(600) + Silence(700) + Voice(600) + Silence(1500));
    ASSERT_TRUE(h.End().ok());
    EXPECT_THAT(h.turns(), SizeIs(turns)) << "silence_ms " << silence_ms;
    h.ExpectNothingLost();
  }
}

TEST(ConverseSessionTest, LongSilenceStartsNothingAndIsLetGo) {
  Harness h;
  ASSERT_TRUE(h.Start(Endpointing(500)).ok());
  h.Push(Silence(5000));
  ASSERT_TRUE(h.End().ok());
  EXPECT_THAT(h.turns(), SizeIs(0));
  for (const auto& e : h.events()) EXPECT_FALSE(e.has_stage() || e.has_error());
  h.ExpectNothingLost();
}

TEST(ConverseSessionTest, SoundShorterThanMinSpeechStartsNoTurn) {
  Harness h;
  ASSERT_TRUE(h.Start(Endpointing(300, 200)).ok());
  h.Push(Silence(200) + Voice(100) + Silence(1000));
  ASSERT_TRUE(h.End().ok());
  EXPECT_THAT(h.turns(), SizeIs(0));
  h.ExpectNothingLost();
}

TEST(ConverseSessionTest, UserSpeechEventsCarryStreamTimeAndTurn) {
  Harness h;
  ASSERT_TRUE(h.Start(Endpointing(300)).ok());
  h.Push(Silence(400) + Voice(600) + Silence(800));
  ASSERT_TRUE(h.End().ok());
  std::vector<v1::UserSpeech> speech;
  for (const auto& e : h.events()) {
    if (e.has_user_speech()) speech.push_back(e.user_speech());
  }
  ASSERT_THAT(speech, SizeIs(2));
  EXPECT_EQ(speech[0].type(), v1::UserSpeech::STARTED);
  EXPECT_EQ(speech[0].stream_ms(), 400);
  EXPECT_EQ(speech[1].type(), v1::UserSpeech::STOPPED);
  EXPECT_EQ(speech[1].stream_ms(), 1000);
  EXPECT_EQ(speech[1].turn_id(), 1);
  const v1::TurnCompleted turn = h.turns().at(0);
  EXPECT_GE(turn.latency().endpointing_delay_ms(), 0);
}

TEST(ConverseSessionTest, EndOfInputEndsTheUtteranceAtOnceEvenWithoutVoice) {
  Harness h;
  ASSERT_TRUE(h.Start(Endpointing(2000)).ok());
  h.Push(Voice(300));
  h.Control(v1::Control::END_OF_INPUT);
  ASSERT_TRUE(h.WaitFor([](const auto& events) {
    for (const auto& e : events) {
      if (e.has_turn_completed()) return true;
    }
    return false;
  }));
  // Quiet audio the detector does not call voice: END_OF_INPUT still makes it an utterance, whose
  // stt hears no words, so the turn is discarded, not answered.
  h.Push(std::string(kChunk * 10, '\2'));
  h.Control(v1::Control::END_OF_INPUT);
  ASSERT_TRUE(h.End().ok());
  EXPECT_THAT(h.turns(), SizeIs(1));
  EXPECT_EQ(h.Telemetry("turn.discarded"), 1);
  h.ExpectNothingLost(/*unanswered=*/kChunk * 10);
}

TEST(ConverseSessionTest, ShortVoiceOverAReplyPausesItThenItResumes) {
  Harness h(/*reply_ms=*/3000);
  v1::SessionConfig config = Endpointing(300);
  config.mutable_barge_in()->set_min_speech_ms(400);
  ASSERT_TRUE(h.Start(config).ok());
  h.PushRealTime(Voice(500) + Silence(600));
  ASSERT_TRUE(h.WaitForReplyFrames(5));
  h.PushRealTime(Voice(200) + Silence(600));
  ASSERT_TRUE(h.End().ok());
  EXPECT_EQ(h.Telemetry("turn.reply_paused"), 1);
  EXPECT_EQ(h.Telemetry("turn.reply_resumed"), 1);
  EXPECT_EQ(h.Telemetry("turn.interrupted"), 0);
  ASSERT_FALSE(h.turns().empty());
  EXPECT_FALSE(h.turns()[0].interrupted());
  // The whole reply was sent: 3 s of 20 ms frames.
  int frames = 0;
  for (const auto& e : h.events()) frames += e.has_reply_audio() && e.reply_audio().turn_id() == 1;
  EXPECT_EQ(frames, 150);
}

TEST(ConverseSessionTest, ConfirmedSpeechOverAReplyInterruptsItAndIsTheNextTurn) {
  Harness h(/*reply_ms=*/3000);
  v1::SessionConfig config = Endpointing(300);
  config.mutable_barge_in()->set_min_speech_ms(200);
  ASSERT_TRUE(h.Start(config).ok());
  h.PushRealTime(Voice(500) + Silence(600));
  ASSERT_TRUE(h.WaitForReplyFrames(5));
  h.PushRealTime(Voice(400) + Silence(500));
  ASSERT_TRUE(h.End().ok());
  const auto turns = h.turns();
  ASSERT_THAT(turns, SizeIs(2));
  EXPECT_TRUE(turns[0].interrupted());
  EXPECT_FALSE(turns[1].interrupted());
  // No frame of turn 1 after the pause.
  bool paused = false;
  for (const auto& e : h.events()) {
    if (e.has_telemetry() && e.telemetry().name() == "turn.reply_paused") paused = true;
    if (paused) {
      EXPECT_FALSE(e.has_reply_audio() && e.reply_audio().turn_id() == 1);
    }
  }
  EXPECT_TRUE(paused);
  h.ExpectNothingLost();
}

TEST(ConverseSessionTest, WithBargeInOffSpeechOverAReplyWaitsItsTurn) {
  Harness h(/*reply_ms=*/1000);
  v1::SessionConfig config = Endpointing(300);
  config.mutable_barge_in()->set_enabled(false);
  ASSERT_TRUE(h.Start(config).ok());
  h.PushRealTime(Voice(500) + Silence(500));
  ASSERT_TRUE(h.WaitForReplyFrames(1));
  h.PushRealTime(Voice(400) + Silence(400));  // Heard while reply 1 plays.
  ASSERT_TRUE(h.End().ok());
  const auto turns = h.turns();
  ASSERT_THAT(turns, SizeIs(2));
  EXPECT_FALSE(turns[0].interrupted());
  EXPECT_EQ(h.Telemetry("turn.reply_paused"), 0);
  // Listening went on while reply 1 played: turn 2's stt started before turn 1 completed.
  int stt2_started = -1, turn1_completed = -1;
  const std::vector<v1::ConverseEvent> events = h.events();
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.has_stage() && e.stage().turn_id() == 2 && e.stage().stage() == "stt" &&
        e.stage().status() == v1::StageEvent::STARTED && stt2_started < 0) {
      stt2_started = static_cast<int>(i);
    }
    if (e.has_turn_completed() && e.turn_completed().turn_id() == 1) {
      turn1_completed = static_cast<int>(i);
    }
  }
  ASSERT_GE(stt2_started, 0);
  EXPECT_LT(stt2_started, turn1_completed);
  // Turn 2's reply starts after turn 1's ended: replies never overlap.
  int last_turn = 0;
  for (const auto& e : h.events()) {
    if (!e.has_reply_audio()) continue;
    EXPECT_GE(e.reply_audio().turn_id(), last_turn);
    last_turn = e.reply_audio().turn_id();
  }
  h.ExpectNothingLost();
}

TEST(ConverseSessionTest, OutOfRangeTurnTakingSettingsNameTheField) {
  Harness h;
  v1::SessionConfig config;
  config.mutable_endpointing()->set_max_utterance_ms(500);
  EXPECT_THAT(h.Start(config).message(), HasSubstr("config.endpointing.max_utterance_ms 500"));
  Harness h2;
  v1::SessionConfig config2;
  config2.mutable_barge_in()->set_min_speech_ms(10);
  EXPECT_THAT(h2.Start(config2).message(), HasSubstr("config.barge_in.min_speech_ms 10"));
  Harness h3;
  v1::SessionConfig config3;
  config3.set_pipeline(std::string(100 * 1024, 'p'));  // Not echoed whole.
  const absl::Status unknown = h3.Start(config3);
  EXPECT_THAT(unknown.message(), HasSubstr("config.pipeline: unknown pipeline 'ppp"));
  EXPECT_LT(unknown.message().size(), 300u);
}

// Found by a hostile-input probe: both used to leave the call open forever.
TEST(ConverseSessionTest, ALateChunkAfterEndOfInputDoesNotKeepTheCallOpen) {
  Harness h;
  ASSERT_TRUE(h.Start(Endpointing(300)).ok());
  h.PushChunk(7, Voice(20));
  h.Control(v1::Control::END_OF_INPUT);
  h.PushChunk(7, Voice(20));  // A duplicate.
  h.PushChunk(3, Voice(20));  // Late.
  EXPECT_TRUE(h.End().ok());
}

TEST(ConverseSessionTest, ASequenceJumpOf2To63CostsNothing) {
  Harness h;
  ASSERT_TRUE(h.Start(Endpointing(300)).ok());
  const uint64_t jump = uint64_t{1} << 63;
  for (uint64_t seq : {uint64_t{1}, uint64_t{2}, jump, jump + 1}) h.PushChunk(seq, Voice(20));
  h.Control(v1::Control::END_OF_INPUT);
  EXPECT_TRUE(h.End().ok());
}

TEST(ConverseSessionTest, AnUnknownControlTypeIsReportedByItsNumber) {
  Harness h;
  ASSERT_TRUE(h.Start(Endpointing(300)).ok());
  v1::ConverseRequest request;
  request.mutable_control()->set_type(static_cast<v1::Control::Type>(77));
  EXPECT_THAT(h.HandleRequest(request).message(),
              HasSubstr("control.type must be END_OF_INPUT (1) or INTERRUPT (2), got 77"));
}

// A second caller reusing a live session's id once read its memory ("what did i say").
TEST(ConverseSessionTest, KeypadDigitsAreATurnOfTheirOwn) {
  Harness h;
  ASSERT_TRUE(h.Start(Endpointing(300)).ok());
  v1::ConverseRequest request;
  request.mutable_dtmf()->set_digits("5#");
  ASSERT_TRUE(h.HandleRequest(request).ok());
  ASSERT_TRUE(h.End().ok());
  ASSERT_THAT(h.turns(), SizeIs(1));
  EXPECT_EQ(h.turns()[0].transcript(), "The caller pressed 5# on the keypad.");
  EXPECT_EQ(h.Telemetry("input.dtmf"), 1);
}

TEST(ConverseSessionTest, BadPlaybackAndDtmfRequestsNameTheField) {
  Harness h;
  ASSERT_TRUE(h.Start(Endpointing(300)).ok());
  v1::ConverseRequest request;
  request.mutable_dtmf()->set_digits("5x");
  EXPECT_THAT(h.HandleRequest(request).message(),
              HasSubstr("dtmf.digits: byte 1 is not one of 0-9 * # A-D ('5x')"));
  request.mutable_dtmf()->set_digits("");
  EXPECT_THAT(h.HandleRequest(request).message(), HasSubstr("dtmf.digits must hold 1..32"));
  request.mutable_playback()->set_turn_id(0);
  EXPECT_THAT(h.HandleRequest(request).message(), HasSubstr("playback.turn_id"));
  request.mutable_playback()->set_turn_id(1);
  request.mutable_playback()->set_played_ms(-1);
  EXPECT_THAT(h.HandleRequest(request).message(), HasSubstr("playback.played_ms"));
  // A report for a turn that does not exist (yet, or any more) changes nothing.
  request.mutable_playback()->set_turn_id(7);
  request.mutable_playback()->set_played_ms(100);
  EXPECT_TRUE(h.HandleRequest(request).ok());
}

TEST(ConverseSessionTest, ALiveSessionIdCannotBeTakenAndIsFreeAfterwards) {
  LiveSessions live;
  Resumption resumption(ResumeTokens(ResumeTokens::RandomKey(), absl::Hours(1)), &live, nullptr,
                        "test", nullptr);
  Harness first, second, third;
  for (Harness* h : {&first, &second, &third}) h->services().resumption = &resumption;
  v1::SessionConfig config = Endpointing(300);
  config.set_session_id("mine");
  ASSERT_TRUE(first.Start(config).ok());
  const absl::Status taken = second.Start(config);
  EXPECT_EQ(taken.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(taken.message(), HasSubstr("config.session_id 'mine' names a conversation"));
  ASSERT_TRUE(first.End().ok());
  first.Close();
  EXPECT_TRUE(third.Start(config).ok()) << "the id is free once its conversation ended";
}

TEST(ConverseSessionTest, AnIdleSessionEndsWithDeadlineExceeded) {
  Harness h;
  h.services().options.idle_timeout = absl::Milliseconds(200);
  ASSERT_TRUE(h.Start(Endpointing(300)).ok());
  const absl::Status status = h.WaitForEnd();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("session_idle_timeout"));
}

TEST(ConverseSessionTest, AnOpenMicrophoneIsNotIdle) {
  Harness h;
  h.services().options.idle_timeout = absl::Milliseconds(200);
  ASSERT_TRUE(h.Start(Endpointing(300)).ok());
  h.PushRealTime(Silence(600));
  EXPECT_TRUE(h.End().ok());
}

// A hang-up while a finished turn's reply audio still waits to be played frees the session. The
// turn stayed queued (its audio unplayed), holding the session, and no tick came after the end to
// complete it: every such hang-up leaked a whole session (the session fuzzer found it).
TEST(ConverseSessionTest, HangingUpDuringAReplyFreesTheSession) {
  Harness h(/*reply_ms=*/200);
  std::mutex mu;
  std::condition_variable changed;
  bool reply_done = false;
  auto session = ConverseSession::Create(
      h.services(),
      [&](v1::ConverseEvent event) {
        if (event.has_stage() && event.stage().stage() == "reply" &&
            event.stage().status() == v1::StageEvent::OK) {
          std::lock_guard<std::mutex> lock(mu);
          reply_done = true;
          changed.notify_all();
        }
      },
      [](const absl::Status&) {});
  session->SetTickWaker([] {});  // No ticks: the reply's audio stays buffered.
  v1::ConverseRequest config;
  config.mutable_config()->mutable_input_format()->set_format(v1::PCM16);
  config.mutable_config()->mutable_input_format()->set_sample_rate(16000);
  config.mutable_config()->mutable_input_format()->set_channels(1);
  *config.mutable_config()->mutable_output_format() = config.config().input_format();
  config.mutable_config()->set_telemetry(true);
  ASSERT_TRUE(session->HandleRequest(config).ok());
  v1::ConverseRequest text;
  text.mutable_text()->set_text("hello");
  ASSERT_TRUE(session->HandleRequest(text).ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(20), [&] { return reply_done; }));
  }
  // The run reports its end just after its last stage's event.
  absl::SleepFor(absl::Milliseconds(100));
  std::weak_ptr<ConverseSession> watched = session;
  session->Close();
  session.reset();
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!watched.expired() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_TRUE(watched.expired()) << "the session outlived its call";
}

// A hang-up races the requests already read: a client that cancels mid-utterance can have its
// half-close, its END_OF_INPUT or more audio handled after Close(). They change nothing.
TEST(ConverseSessionTest, RequestsThatArriveAfterCloseChangeNothing) {
  Harness h;
  ASSERT_TRUE(h.Start(Endpointing(/*silence_ms=*/300)).ok());
  h.Push(Voice(300));  // An utterance is open: its turn is listening.
  ASSERT_TRUE(h.WaitFor([](const std::vector<v1::ConverseEvent>& events) {
    for (const auto& e : events) {
      if (e.has_user_speech() && e.user_speech().type() == v1::UserSpeech::STARTED) return true;
    }
    return false;
  }));
  h.Close();
  h.Push(Voice(200));
  h.Control(v1::Control::END_OF_INPUT);
  EXPECT_TRUE(h.session()->HandleEndOfInput().ok());
  v1::ConverseRequest text;
  text.mutable_text()->set_text("still there?");
  EXPECT_TRUE(h.HandleRequest(text).ok());
  EXPECT_THAT(h.turns(), SizeIs(0));
}

// An idle session (a config, then nothing) costs no ticks: it leaves the ticker, and comes back
// on its next request or when its idle limit is due.
TEST(ConverseSessionTest, AnIdleSessionLeavesTheTickerUntilARequestOrATimeout) {
  Harness h;
  h.services().options.idle_timeout = absl::Milliseconds(100);
  std::mutex mu;
  std::condition_variable woken;
  int wakes = 0;
  absl::Status ended;
  auto session = ConverseSession::Create(
      h.services(), [](v1::ConverseEvent) {},
      [&](const absl::Status& status) {
        std::lock_guard<std::mutex> lock(mu);
        ended = status;
      });
  session->SetTickWaker([&] {
    std::lock_guard<std::mutex> lock(mu);
    ++wakes;
    woken.notify_all();
  });
  auto wakes_now = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return wakes;
  };
  EXPECT_EQ(wakes_now(), 1);  // Ticks from the start.
  v1::ConverseRequest request;
  v1::SessionConfig* config = request.mutable_config();
  config->mutable_input_format()->set_format(v1::PCM16);
  config->mutable_input_format()->set_sample_rate(16000);
  config->mutable_input_format()->set_channels(1);
  *config->mutable_output_format() = config->input_format();
  ASSERT_TRUE(session->HandleRequest(request).ok());
  EXPECT_EQ(wakes_now(), 1) << "still on the ticker: no second wake";
  EXPECT_FALSE(session->Tick(absl::Now())) << "nothing to pace: leaves the ticker";

  // A request brings the ticks back; a turn keeps them.
  v1::ConverseRequest text;
  text.mutable_text()->set_text("hello");
  ASSERT_TRUE(session->HandleRequest(text).ok());
  EXPECT_EQ(wakes_now(), 2);
  EXPECT_TRUE(session->Tick(absl::Now()));

  // Once idle again, the idle limit's timer wakes it, and that tick ends the session.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (session->Tick(absl::Now()) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));  // Standing in for the ticker's period.
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(woken.wait_for(lock, std::chrono::seconds(10), [&] { return wakes == 3; }))
        << "the idle limit did not wake the session";
  }
  EXPECT_TRUE(session->Tick(absl::Now()));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(ended.code(), absl::StatusCode::kDeadlineExceeded) << ended;
  }
  session->Close();
  EXPECT_FALSE(session->Tick(absl::Now()));
}

}  // namespace
}  // namespace voxflow::orchestrator

namespace voxflow::orchestrator {
namespace {

// Input reaches the stt stage's stream outside the session's lock: the watcher of an utterance
// (which writes to the STT backend in the real stage) is never called while the session holds
// it, for frames heard while the turn listens, at its end, or at END_OF_INPUT.
TEST(ConverseSessionTest, NoBackendWriteHappensUnderTheSessionsLock) {
  Harness h;
  auto probe = std::make_shared<LockProbe>();
  probe->lock_held = [&h] { return h.session()->LockHeldByThisThread(); };
  h.services().stage_factories = [probe](TurnEnvironment* turn) {
    StageFactories factories;
    factories["stt"] = [turn, probe](const v1::StageSpec&) {
      return std::make_unique<WatchingStt>(turn, probe);
    };
    factories["reply"] = [turn](const v1::StageSpec&) {
      return std::make_unique<FakeReply>(turn, 100);
    };
    return factories;
  };
  ASSERT_TRUE(h.Start(Endpointing(300)).ok());
  h.PushRealTime(Silence(200) + Voice(600) + Silence(500) + Voice(400));
  h.Control(v1::Control::END_OF_INPUT);
  ASSERT_TRUE(h.WaitFor([](const std::vector<v1::ConverseEvent>& events) {
    int done = 0;
    for (const auto& e : events) done += e.has_turn_completed();
    return done >= 2;
  }));
  EXPECT_TRUE(h.End().ok());
  EXPECT_GT(probe->wakes.load(), 10) << "the watcher saw the frames as they were heard";
  EXPECT_EQ(probe->under_lock.load(), 0);
  h.ExpectNothingLost();
}

}  // namespace
}  // namespace voxflow::orchestrator
