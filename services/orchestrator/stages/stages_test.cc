// Each built-in stage driven alone with a FakeTurnEnvironment. stt and tts talk to the real
// STT and TTS services (mock engines) in-process over gRPC on a loopback port.
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/grpc.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "mocks/mock_stt_engine.h"
#include "mocks/mock_tts_engine.h"
#include "services/common/audio_chunk.h"
#include "services/common/backend.h"
#include "services/common/worker_pool.h"
#include "services/orchestrator/conversation_memory.h"
#include "services/orchestrator/llm/fake_openai_server.h"
#include "services/orchestrator/stages/backend_call.h"
#include "services/orchestrator/stages/conversation_stages.h"
#include "services/orchestrator/stages/llm_stage.h"
#include "services/orchestrator/stages/stt_stage.h"
#include "services/orchestrator/stages/tts_stage.h"
#include "services/orchestrator/testing/fake_turn_environment.h"
#include "services/stt/stt_service.h"
#include "services/tts/tts_service.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

v1::AudioStreamFormat Pcm16k() { return MakeStreamFormat(v1::PCM16, 16000, 1); }

InputItem Audio(size_t bytes) {
  InputItem item;
  item.audio.set_data(std::string(bytes, '\3'));
  item.audio.set_format(v1::PCM16);
  item.audio.set_sample_rate(16000);
  item.audio.set_channels(1);
  return item;
}

// gRPC stays initialized for the whole test binary, as it is in a server process: otherwise each
// test that creates the first gRPC object starts gRPC's internal threads and the last one to go
// ends them, and TSan (which cannot see those threads' exit through Debian's uninstrumented
// libgpr) takes a later test's stack for memory they still read.
class GrpcForTheWholeBinary : public ::testing::Environment {
 public:
  void SetUp() override { grpc_init(); }
  void TearDown() override { grpc_shutdown(); }
};
const auto* const kGrpc = ::testing::AddGlobalTestEnvironment(new GrpcForTheWholeBinary);

// A context for one attempt of a stage spec.
struct Attempt {
  v1::StageSpec spec;
  std::shared_ptr<CancellationToken> token = CancellationToken::Create();
  std::map<std::string, DependencyResult> dependencies;
  std::vector<std::shared_ptr<TextStream>> streams_out;
  std::map<std::string, std::shared_ptr<TextStream>> streams_in;
  int number = 1;
  StageContext Context() {
    return StageContext(&spec, token, absl::Now() + absl::Seconds(20), number, dependencies,
                        streams_in, streams_out);
  }
};

// The speech services, in-process on loopback port 0.
class SpeechServices {
 public:
  explicit SpeechServices(bool stt_hangs = false)
      : stt_engine_(mocks::MockSttOptions{.transcriptions = {"heard {bytes} bytes"},
                                          .latency_ms = 5,
                                          .latency_jitter_ms = 0,
                                          .interim_every_ms = 100,
                                          .hang = stt_hangs}),
        tts_engine_(mocks::MockTtsOptions{.bytes_per_char = 64, .latency_ms = 0}),
        pool_(2),
        stt_(&stt_engine_, &pool_),
        tts_(&tts_engine_, &pool_) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&stt_);
    builder.RegisterService(&tts_);
    server_ = builder.BuildAndStart();
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  // The pool stops after every call is done and before the server goes: a pool task may still be
  // returning from a call's Finish.
  ~SpeechServices() {
    server_->Shutdown(absl::ToChronoTime(absl::Now()));
    pool_.Stop();
  }
  const std::string& address() const { return address_; }

 private:
  mocks::MockSttEngine stt_engine_;
  mocks::MockTtsEngine tts_engine_;
  WorkerPool pool_;
  stt::SttService stt_;
  tts::TtsService tts_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

// `turn` (its config set up by the test) hears 500 ms of audio through an stt stage.
StageResult RecognizeHalfASecond(FakeTurnEnvironment& turn) {
  SpeechServices services;
  Backend backend("stt", services.address());
  *turn.mutable_config().mutable_input_format() = Pcm16k();
  for (int i = 0; i < 25; ++i) turn.utterance().Append(Audio(640));
  turn.utterance().End(absl::Now());
  SttStage stage(&turn, &backend);
  Attempt attempt;
  StageContext context = attempt.Context();
  return stage.Run(context);
}

TEST(SttStageTest, StreamsTheWholeUtteranceAndCompletesWithItsTranscript) {
  FakeTurnEnvironment turn;
  turn.mutable_config().set_interim_results(true);
  const StageResult result = RecognizeHalfASecond(turn);
  ASSERT_EQ(result.outcome, StageOutcome::kOk) << result.error;
  EXPECT_EQ(result.outputs.at("transcript"), "heard 16000 bytes");
  const auto transcripts = turn.transcripts();
  ASSERT_FALSE(transcripts.empty());
  EXPECT_FALSE(transcripts.front().is_final());  // Interims first.
  EXPECT_TRUE(transcripts.back().is_final());
  EXPECT_TRUE(turn.marked(TurnMark::kFinalTranscript));
}

// What the recognizer heard was the reply's own voice come back (the session says so): no
// transcript goes to the llm.
TEST(SttStageTest, TheRepliesEchoIsNotATranscript) {
  FakeTurnEnvironment turn;
  turn.set_echo_of_reply("heard 16000 bytes");
  const StageResult result = RecognizeHalfASecond(turn);
  EXPECT_EQ(result.outcome, StageOutcome::kSkip) << result.error;
  EXPECT_THAT(result.error.message(), HasSubstr("the reply's own echo"));
  EXPECT_EQ(result.outputs.count("transcript"), 0u);
}

// A SIGSTOP'd STT process held a turn for the whole 30 s stage timeout.
TEST(SttStageTest, ABackendThatNeverAnswersIsRetriedSoon) {
  SpeechServices services(/*stt_hangs=*/true);
  Backend backend("stt", services.address());
  FakeTurnEnvironment turn;
  *turn.mutable_config().mutable_input_format() = Pcm16k();
  for (int i = 0; i < 10; ++i) turn.utterance().Append(Audio(640));
  turn.utterance().End(absl::Now());
  SttStage stage(&turn, &backend);
  Attempt attempt;
  (*attempt.spec.mutable_parameters())["stall_timeout_ms"] = "300";
  StageContext context = attempt.Context();
  const absl::Time start = absl::Now();
  const StageResult result = stage.Run(context);
  EXPECT_EQ(result.outcome, StageOutcome::kRetry);
  EXPECT_THAT(result.error.message(),
              ::testing::HasSubstr("no answer for 300 ms or more after the end of the utterance"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));  // Not the 20 s attempt deadline.
}

TEST(SttStageTest, ATypedTurnSkips) {
  FakeTurnEnvironment turn;
  turn.set_text_input("hello");
  Backend backend("stt", "127.0.0.1:1");
  SttStage stage(&turn, &backend);
  Attempt attempt;
  StageContext context = attempt.Context();
  EXPECT_EQ(stage.Run(context).outcome, StageOutcome::kSkip);
}

TEST(SttStageTest, AnUnreachableBackendIsRetryable) {
  FakeTurnEnvironment turn;
  *turn.mutable_config().mutable_input_format() = Pcm16k();
  Backend backend("stt", "127.0.0.1:1", BackendOptions{.connect_timeout = absl::Milliseconds(200)});
  SttStage stage(&turn, &backend);
  Attempt attempt;
  StageContext context = attempt.Context();
  EXPECT_EQ(stage.Run(context).outcome, StageOutcome::kRetry);
}

// A tts stage streaming from "llm" over the speech services, driven alone.
struct StreamingTts {
  SpeechServices services;
  Backend backend{"tts", services.address()};
  FakeTurnEnvironment turn;
  Attempt attempt;
  std::shared_ptr<TextStream> stream =
      std::make_shared<TextStream>(streaming::ChunkQueueOptions{.max_size = 8});
  StreamingTts() {
    *turn.mutable_config().mutable_output_format() = Pcm16k();
    attempt.spec.set_name("tts");
    attempt.spec.add_streams_from("llm");
    attempt.streams_in["llm"] = stream;
  }
};

TEST(TtsStageTest, SpeaksEachSentenceItIsStreamedTaggedWithItsText) {
  StreamingTts tts;
  FakeTurnEnvironment& turn = tts.turn;
  TtsStage stage(&turn, &tts.backend);
  ASSERT_TRUE(tts.stream->TryPut("It is sunny."));
  ASSERT_TRUE(tts.stream->TryPut("Take a hat!"));
  tts.stream->Close();
  StageContext context = tts.attempt.Context();
  const StageResult result = stage.Run(context);
  ASSERT_EQ(result.outcome, StageOutcome::kOk) << result.error;
  EXPECT_EQ(result.outputs.at("sentences"), "2");
  const std::vector<std::string> texts = turn.audio_texts();
  ASSERT_FALSE(texts.empty());
  EXPECT_EQ(texts.front(), "It is sunny.");
  EXPECT_EQ(texts.back(), "Take a hat!");
  EXPECT_EQ(turn.reply_audio(), mocks::MockTtsEngine::AudioFor("It is sunny.", 64, Pcm16k()) +
                                    mocks::MockTtsEngine::AudioFor("Take a hat!", 64, Pcm16k()));
  EXPECT_TRUE(turn.marked(TurnMark::kTtsFirstByte));
}

// The session's output full: reading pauses, and every chunk is offered again when there is
// room, in order, none lost.
TEST(TtsStageTest, AFullOutputPausesTheStreamAndLosesNothing) {
  StreamingTts tts;
  FakeTurnEnvironment& turn = tts.turn;
  turn.set_full_for(5);
  TtsStage stage(&turn, &tts.backend);
  // The sentence arrives after the stage started: it waits for it without a thread.
  std::thread llm([stream = tts.stream] {
    absl::SleepFor(absl::Milliseconds(50));
    ASSERT_TRUE(stream->TryPut("It is sunny and warm today."));
    stream->Close();
  });
  StageContext context = tts.attempt.Context();
  const StageResult result = stage.Run(context);
  llm.join();
  ASSERT_EQ(result.outcome, StageOutcome::kOk) << result.error;
  EXPECT_EQ(turn.room_waits(), 5);
  EXPECT_EQ(turn.reply_audio(),
            mocks::MockTtsEngine::AudioFor("It is sunny and warm today.", 64, Pcm16k()));
}

// The stage marks the turn on the session's clock, not the machine's.
TEST(TtsStageTest, MarksTheTurnWithTheSessionsClock) {
  StreamingTts tts;
  FakeTurnEnvironment& turn = tts.turn;
  const absl::Time session_time = absl::FromUnixSeconds(1000);
  turn.set_now(session_time);
  TtsStage stage(&turn, &tts.backend);
  ASSERT_TRUE(tts.stream->TryPut("It is sunny."));
  tts.stream->Close();
  StageContext context = tts.attempt.Context();
  ASSERT_EQ(stage.Run(context).outcome, StageOutcome::kOk);
  EXPECT_EQ(turn.mark_time(TurnMark::kFirstSentence), session_time);
  EXPECT_EQ(turn.mark_time(TurnMark::kTtsFirstByte), session_time);
}

// Cancelled before it starts: the attempt reports the cancellation and opens no call.
TEST(TtsStageTest, AnAttemptCancelledBeforeItStartsOpensNoCall) {
  StreamingTts tts;
  FakeTurnEnvironment& turn = tts.turn;
  TtsStage stage(&turn, &tts.backend);
  ASSERT_TRUE(tts.stream->TryPut("It is sunny."));
  tts.stream->Close();
  tts.attempt.token->Cancel(absl::CancelledError("barge-in"));
  StageContext context = tts.attempt.Context();
  const StageResult result = stage.Run(context);
  EXPECT_EQ(result.outcome, StageOutcome::kCancel);
  EXPECT_FALSE(turn.marked(TurnMark::kFirstSentence));
  EXPECT_TRUE(turn.reply_audio().empty());
}

TEST(TtsStageTest, OutputRefusedMidReplyCancels) {
  SpeechServices services;
  Backend backend("tts", services.address());
  FakeTurnEnvironment turn;
  *turn.mutable_config().mutable_output_format() = Pcm16k();
  turn.refuse_audio_after(1);
  TtsStage stage(&turn, &backend);
  Attempt attempt;
  attempt.spec.add_depends_on("llm");
  attempt.dependencies["llm"] =
      DependencyResult{StageOutcome::kOk, {{"reply", "One sentence here. And another one."}}};
  StageContext context = attempt.Context();
  EXPECT_EQ(stage.Run(context).outcome, StageOutcome::kCancel);
  EXPECT_THAT(turn.audio_texts(), SizeIs(1));
}

TEST(LlmStageTest, RepliesInPiecesAndStreamsWholeSentences) {
  FakeTurnEnvironment turn;
  LlmStage stage(&turn);
  Attempt attempt;
  auto* rule = attempt.spec.mutable_parameters();
  (*rule)["rule.weather"] = "It is sunny today. Take a hat!";
  attempt.dependencies["stt"] =
      DependencyResult{StageOutcome::kOk, {{"transcript", "what is the weather"}}};
  auto out = std::make_shared<TextStream>(streaming::ChunkQueueOptions{.max_size = 8});
  attempt.streams_out.push_back(out);
  StageContext context = attempt.Context();
  const StageResult result = stage.Run(context);
  ASSERT_EQ(result.outcome, StageOutcome::kOk) << result.error;
  EXPECT_EQ(result.outputs.at("reply"), "It is sunny today. Take a hat!");
  EXPECT_EQ(turn.reply_text(), "It is sunny today. Take a hat!");
  EXPECT_TRUE(turn.reply_final());
  std::vector<std::string> sentences;
  while (auto sentence = out->TryGet()) sentences.push_back(*sentence);
  EXPECT_THAT(sentences, ElementsAre("It is sunny today.", "Take a hat!"));
  EXPECT_TRUE(turn.marked(TurnMark::kLlmFirstToken));
}

TEST(LlmStageTest, AnOpenAiCompatibleServerRepliesAndACutStreamKeepsWhatWasSaid) {
  testing::FakeOpenAiServer server;
  for (const std::string model : {"ok", "cut"}) {
    FakeTurnEnvironment turn;
    LlmStage stage(&turn);
    Attempt attempt;
    auto* parameters = attempt.spec.mutable_parameters();
    (*parameters)["provider"] = "openai";
    (*parameters)["base_url"] = server.base_url();
    (*parameters)["model"] = model;
    (*parameters)["system_prompt"] = "You are a voice agent.";
    attempt.dependencies["stt"] = DependencyResult{StageOutcome::kOk, {{"transcript", "hello"}}};
    auto out = std::make_shared<TextStream>(streaming::ChunkQueueOptions{.max_size = 8});
    attempt.streams_out.push_back(out);
    StageContext context = attempt.Context();
    const StageResult result = stage.Run(context);
    if (model == "ok") {
      ASSERT_EQ(result.outcome, StageOutcome::kOk) << result.error;
      EXPECT_EQ(result.outputs.at("reply"), "Hello there!");
      EXPECT_EQ(turn.reply_text(), "Hello there!");
      EXPECT_THAT(server.last_body(), HasSubstr("You are a voice agent."));
    } else {
      // A token reached the caller: no retry (it would say something else), the words stay.
      EXPECT_EQ(result.outcome, StageOutcome::kFail);
      EXPECT_THAT(result.error.message(), HasSubstr("before [DONE]"));
      EXPECT_EQ(turn.reply_text(), "Hello");
    }
  }
}

TEST(LlmStageTest, TheSessionsModelSettingsGoOverThePipelines) {
  testing::FakeOpenAiServer server;
  FakeTurnEnvironment turn;
  v1::LlmSettings* llm = turn.mutable_config().mutable_llm();
  llm->set_system_prompt("Answer like a pirate.");
  llm->set_temperature(0.5f);
  LlmStage stage(&turn);
  Attempt attempt;
  auto* parameters = attempt.spec.mutable_parameters();
  (*parameters)["provider"] = "openai";
  (*parameters)["base_url"] = server.base_url();
  (*parameters)["model"] = "ok";
  (*parameters)["system_prompt"] = "The pipeline's prompt.";
  attempt.dependencies["stt"] = DependencyResult{StageOutcome::kOk, {{"transcript", "hi"}}};
  StageContext context = attempt.Context();
  ASSERT_EQ(stage.Run(context).outcome, StageOutcome::kOk);
  EXPECT_THAT(server.last_body(), HasSubstr("Answer like a pirate."));
  EXPECT_THAT(server.last_body(), ::testing::Not(HasSubstr("The pipeline's prompt.")));
  EXPECT_THAT(server.last_body(), HasSubstr("\"temperature\":0.5"));
}

TEST(LlmStageTest, BadProviderParametersNameTheParameter) {
  FakeTurnEnvironment turn;
  LlmStage stage(&turn);
  Attempt attempt;
  (*attempt.spec.mutable_parameters())["provider"] = "openai";
  (*attempt.spec.mutable_parameters())["model"] = "m";
  attempt.dependencies["stt"] = DependencyResult{StageOutcome::kOk, {{"transcript", "hi"}}};
  StageContext context = attempt.Context();
  const StageResult result = stage.Run(context);
  EXPECT_EQ(result.outcome, StageOutcome::kFail);
  EXPECT_THAT(result.error.message(), HasSubstr("llm parameter base_url: is required"));
}

// An llm attempt against `base_url` with model `model`, up to two attempts.
Attempt OpenAiAttempt(const std::string& base_url, const std::string& model) {
  Attempt attempt;
  auto* parameters = attempt.spec.mutable_parameters();
  (*parameters)["provider"] = "openai";
  (*parameters)["base_url"] = base_url;
  (*parameters)["model"] = model;
  attempt.spec.set_name("llm");
  attempt.spec.mutable_retry()->set_max_attempts(2);
  attempt.dependencies["stt"] = DependencyResult{StageOutcome::kOk, {{"transcript", "hello"}}};
  return attempt;
}

TEST(LlmStageTest, AnUnreachableModelIsRetriedThenSpeaksTheFallbackReply) {
  FakeTurnEnvironment turn;
  LlmStage stage(&turn);
  Attempt attempt = OpenAiAttempt("http://127.0.0.1:1/v1", "m");
  (*attempt.spec.mutable_parameters())["fallback_reply"] = "Sorry, I cannot think right now.";
  auto out = std::make_shared<TextStream>(streaming::ChunkQueueOptions{.max_size = 8});
  attempt.streams_out.push_back(out);
  StageContext first = attempt.Context();
  const StageResult retried = stage.Run(first);
  EXPECT_EQ(retried.outcome, StageOutcome::kRetry) << retried.error;
  EXPECT_TRUE(turn.degradations().empty());
  attempt.number = 2;
  StageContext last = attempt.Context();
  const StageResult result = stage.Run(last);
  ASSERT_EQ(result.outcome, StageOutcome::kOk) << result.error;
  EXPECT_EQ(result.outputs.at("reply"), "Sorry, I cannot think right now.");
  EXPECT_EQ(turn.reply_text(), "Sorry, I cannot think right now.");
  EXPECT_TRUE(turn.reply_final());
  EXPECT_EQ(out->TryGet(), "Sorry, I cannot think right now.") << "spoken";
  ASSERT_EQ(turn.degradations().size(), 1u);
  EXPECT_THAT(turn.degradations()[0],
              HasSubstr("llm:llm_failed:cannot reach the model server at http://127.0.0.1:1/v1"));

  // Without a fallback the last attempt fails.
  FakeTurnEnvironment plain;
  LlmStage plain_stage(&plain);
  Attempt no_fallback = OpenAiAttempt("http://127.0.0.1:1/v1", "m");
  no_fallback.number = 2;
  StageContext context = no_fallback.Context();
  EXPECT_EQ(plain_stage.Run(context).outcome, StageOutcome::kFail);
}

TEST(LlmStageTest, A429IsRetriedNoSoonerThanTheServerAsks) {
  testing::FakeOpenAiServer server;
  FakeTurnEnvironment turn;
  LlmStage stage(&turn);
  Attempt attempt = OpenAiAttempt(server.base_url(), "429once");
  StageContext first = attempt.Context();
  const StageResult retried = stage.Run(first);
  ASSERT_EQ(retried.outcome, StageOutcome::kRetry) << retried.error;
  EXPECT_EQ(retried.min_backoff, absl::Seconds(1)) << "Retry-After: 1";
  attempt.number = 2;
  StageContext second = attempt.Context();
  EXPECT_EQ(stage.Run(second).outcome, StageOutcome::kOk);
  EXPECT_EQ(turn.reply_text(), "Hello there!");
}

TEST(LlmStageTest, ToolCallsGoToTheCallerAndUsageIsReported) {
  testing::FakeOpenAiServer server;
  FakeTurnEnvironment turn;
  turn.set_tool_answer({R"({"sky":"clear"})", ""});
  LlmStage stage(&turn);
  Attempt attempt = OpenAiAttempt(server.base_url(), "tool");
  (*attempt.spec.mutable_parameters())["tools"] =
      R"([{"name":"get_weather","description":"The weather in a city",
           "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}])";
  StageContext context = attempt.Context();
  const StageResult result = stage.Run(context);
  ASSERT_EQ(result.outcome, StageOutcome::kOk) << result.error;
  EXPECT_EQ(turn.reply_text(), R"(Tool said: {"sky":"clear"}.)");
  ASSERT_EQ(turn.tool_calls().size(), 1u);
  EXPECT_EQ(turn.tool_calls()[0].arguments_json, R"({"city":"Paris"})");
  ASSERT_EQ(turn.llm_reports().size(), 1u);
  EXPECT_EQ(turn.llm_reports()[0].requests, 2);
  EXPECT_EQ(turn.llm_reports()[0].usage->completion_tokens, 6);

  // A tool the conversation never declared is not run: the model hears so.
  FakeTurnEnvironment undeclared;
  LlmStage other_stage(&undeclared);
  Attempt other = OpenAiAttempt(server.base_url(), "tool_unknown");
  (*other.spec.mutable_parameters())["tools"] = R"([{"name":"get_time"}])";
  StageContext other_context = other.Context();
  ASSERT_EQ(other_stage.Run(other_context).outcome, StageOutcome::kOk);
  EXPECT_TRUE(undeclared.tool_calls().empty());
  EXPECT_EQ(undeclared.reply_text(), R"(Tool failed: "there is no tool named launch_rockets".)");
}

TEST(LlmStageTest, NothingToReplyToSkips) {
  FakeTurnEnvironment turn;
  LlmStage stage(&turn);
  Attempt attempt;
  attempt.dependencies["stt"] = DependencyResult{StageOutcome::kOk, {{"transcript", ""}}};
  StageContext context = attempt.Context();
  EXPECT_EQ(stage.Run(context).outcome, StageOutcome::kSkip);
}

TEST(MemoryStagesTest, WhatIsWrittenIsFetchedByTheNextTurn) {
  InProcessMemory memory;
  FakeTurnEnvironment turn;
  MemoryWriteStage write(&turn, &memory);
  Attempt written;
  written.dependencies["llm"] = DependencyResult{
      StageOutcome::kOk, {{"user_text", "what is the weather"}, {"reply", "Sunny."}}};
  StageContext write_context = written.Context();
  ASSERT_EQ(write.Run(write_context).outcome, StageOutcome::kOk);
  MemoryFetchStage fetch(&turn, &memory);
  Attempt fetched;
  StageContext fetch_context = fetched.Context();
  const StageResult result = fetch.Run(fetch_context);
  ASSERT_EQ(result.outcome, StageOutcome::kOk);
  EXPECT_EQ(result.outputs.at("exchanges"), "1");
  EXPECT_THAT(result.outputs.at("history"), ::testing::HasSubstr("Sunny."));
}

}  // namespace
}  // namespace voxflow::orchestrator
