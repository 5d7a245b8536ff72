#include "services/orchestrator/pipeline/dag_runner.h"

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/notification.h"
#include "services/orchestrator/pipeline/pipeline_spec_loader.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(20);

// Stages are test functions looked up by stage name; every spec uses type "fn".
using StageFn = std::function<StageResult(StageContext&)>;

class FnStage final : public Stage {
 public:
  explicit FnStage(StageFn fn) : fn_(std::move(fn)) {}
  StageResult Run(StageContext& context) override { return fn_(context); }

 private:
  StageFn fn_;
};

// Waits for cancellation (the stage honours its token), bounded so a bug fails instead of hanging.
StageResult BlockUntilCancelled(StageContext& context) {
  if (!context.cancellation()->WaitFor(kDeadline))
    return StageResult::Fail(absl::InternalError("never cancelled"));
  return StageResult::Fail(context.cancellation()->reason());
}

class DagRunnerTest : public ::testing::Test {
 protected:
  std::shared_ptr<DagRun> Start(const std::string& stages_text,
                                std::set<std::string> run_before_release = {}) {
    auto spec = ParsePipelineSpec("name: 'test' " + stages_text, "test");
    EXPECT_TRUE(spec.ok()) << spec.status();
    auto graph = PipelineGraph::Build(*spec, {"fn", "early"});
    EXPECT_TRUE(graph.ok()) << graph.status();
    graph_ = std::make_shared<PipelineGraph>(*std::move(graph));
    StageFactories factories;
    factories["fn"] = [this](const v1::StageSpec& spec) -> std::unique_ptr<Stage> {
      return std::make_unique<FnStage>(fns_.at(spec.name()));
    };
    factories["early"] = factories["fn"];
    DagRunOptions options;
    options.run_before_release = std::move(run_before_release);
    options.on_event = [this](v1::StageEvent event) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(event.name());
      full_events_.push_back(std::move(event));
    };
    return DagRun::Start(graph_, factories, std::move(options));
  }

  TurnResult Run(const std::string& stages_text) { return Start(stages_text)->Wait(); }

  std::vector<std::string> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::vector<v1::StageEvent> full_events() {
    std::lock_guard<std::mutex> lock(mu_);
    return full_events_;
  }

  std::map<std::string, StageFn> fns_;
  std::shared_ptr<PipelineGraph> graph_;
  std::mutex mu_;
  std::vector<std::string> events_;
  std::vector<v1::StageEvent> full_events_;
};

TEST_F(DagRunnerTest, IndependentStagesRunInParallelAndSeeOnlyTheirDependencies) {
  Notification a_started, b_started;
  fns_["a"] = [&](StageContext&) {
    a_started.Notify();
    // Only finishes if b runs at the same time.
    if (!b_started.WaitForNotificationWithTimeout(kDeadline))
      return StageResult::Fail(absl::InternalError("b never ran"));
    return StageResult::Ok({{"x", "from a"}});
  };
  fns_["b"] = [&](StageContext&) {
    b_started.Notify();
    if (!a_started.WaitForNotificationWithTimeout(kDeadline))
      return StageResult::Fail(absl::InternalError("a never ran"));
    return StageResult::Ok({{"y", "from b"}});
  };
  std::string seen_a, seen_b;
  bool sees_unrelated = true;
  fns_["c"] = [&](StageContext& context) {
    seen_a = context.Input("a", "x");
    sees_unrelated = context.dependency("b") != nullptr;
    return StageResult::Ok({{"z", seen_a + "!"}});
  };
  fns_["d"] = [&](StageContext& context) {
    seen_b = context.Input("b", "y");
    return StageResult::Ok();
  };
  TurnResult result =
      Run("stages { name: 'a' type: 'fn' } stages { name: 'b' type: 'fn' }"
          "stages { name: 'c' type: 'fn' depends_on: 'a' }"
          "stages { name: 'd' type: 'fn' depends_on: 'b' depends_on: 'c' }");
  EXPECT_EQ(result.status, TurnStatus::kOk) << result.error;
  EXPECT_EQ(seen_a, "from a");
  EXPECT_EQ(seen_b, "from b");
  EXPECT_FALSE(sees_unrelated);
  EXPECT_EQ(result.Find("c")->outputs.at("z"), "from a!");
  EXPECT_LE(result.Find("c")->start, result.Find("d")->start);
  const std::vector<std::string> names = events();
  EXPECT_THAT(names, Contains("stage.a.started"));
  EXPECT_THAT(names, Contains("stage.d.completed"));
  EXPECT_EQ(names.size(), 8u);
}

TEST_F(DagRunnerTest, SkipCountsAsDoneButConditionalDependentsSkip) {
  std::atomic<bool> b_ran{false};
  fns_["a"] = [](StageContext&) { return StageResult::Skip("no audio"); };
  fns_["b"] = [&](StageContext& context) {
    b_ran = context.dependency("a")->outcome == StageOutcome::kSkip;
    return StageResult::Ok();
  };
  fns_["c"] = [](StageContext&) { return StageResult::Fail(absl::InternalError("must not run")); };
  TurnResult result =
      Run("stages { name: 'a' type: 'fn' }"
          "stages { name: 'b' type: 'fn' depends_on: 'a' }"
          "stages { name: 'c' type: 'fn' depends_on: 'a' conditional: true }");
  EXPECT_EQ(result.status, TurnStatus::kOk);
  EXPECT_TRUE(b_ran);
  EXPECT_EQ(result.Find("a")->outcome, StageOutcome::kSkip);
  EXPECT_EQ(result.Find("c")->outcome, StageOutcome::kSkip);
  EXPECT_THAT(result.Find("c")->error.message(), HasSubstr("dependency 'a' was skipped"));
  EXPECT_THAT(events(), Contains("stage.c.skipped"));
  EXPECT_THAT(events(), ::testing::Not(Contains("stage.c.started")));
}

TEST_F(DagRunnerTest, FailureFailsTheTurnFastAndCancelsRunningStages) {
  Notification b_running;
  fns_["a"] = [&](StageContext&) {
    b_running.WaitForNotificationWithTimeout(kDeadline);
    return StageResult::Fail(absl::UnavailableError("llm backend down"));
  };
  fns_["b"] = [&](StageContext& context) {
    b_running.Notify();
    return BlockUntilCancelled(context);
  };
  fns_["c"] = [](StageContext&) { return StageResult::Ok(); };
  TurnResult result =
      Run("stages { name: 'a' type: 'fn' } stages { name: 'b' type: 'fn' timeout_ms: 60000 }"
          "stages { name: 'c' type: 'fn' depends_on: 'a' }");
  EXPECT_EQ(result.status, TurnStatus::kFailed);
  EXPECT_EQ(result.failed_stage, "a");
  EXPECT_EQ(result.error, absl::UnavailableError("stage 'a' failed: llm backend down"));
  EXPECT_EQ(result.Find("b")->outcome, StageOutcome::kCancel);
  EXPECT_FALSE(result.Find("c")->ran);
  EXPECT_THAT(events(), Contains("stage.a.failed"));
  EXPECT_THAT(events(), Contains("stage.b.cancelled"));
  EXPECT_THAT(events(), ::testing::Not(Contains("stage.c.started")));
}

TEST_F(DagRunnerTest, ContinuePolicyShowsTheFailureToDependents) {
  absl::Status seen;
  fns_["a"] = [](StageContext&) { return StageResult::Fail(absl::NotFoundError("no memory")); };
  fns_["b"] = [&](StageContext& context) {
    const DependencyResult* a = context.dependency("a");
    if (a->outcome == StageOutcome::kFail) seen = a->error;
    return StageResult::Ok();
  };
  TurnResult result =
      Run("stages { name: 'a' type: 'fn' failure_policy: CONTINUE }"
          "stages { name: 'b' type: 'fn' depends_on: 'a' }");
  EXPECT_EQ(result.status, TurnStatus::kOk);
  EXPECT_EQ(seen, absl::NotFoundError("no memory"));
  EXPECT_TRUE(result.degradations.empty());
}

TEST_F(DagRunnerTest, DegradePolicyGivesDependentsTheFallbackOutput) {
  DependencyResult seen;
  fns_["a"] = [](StageContext&) { return StageResult::Fail(absl::UnavailableError("stt down")); };
  fns_["b"] = [&](StageContext& context) {
    seen = *context.dependency("a");
    return StageResult::Ok();
  };
  TurnResult result =
      Run("stages { name: 'a' type: 'fn' failure_policy: DEGRADE"
          "  fallback_output { key: 'transcript' value: '' } }"
          "stages { name: 'b' type: 'fn' depends_on: 'a' }");
  EXPECT_EQ(result.status, TurnStatus::kOk);
  EXPECT_EQ(seen.outcome, StageOutcome::kOk);
  EXPECT_TRUE(seen.degraded);
  EXPECT_EQ(seen.outputs, (StageOutputs{{"transcript", ""}}));
  EXPECT_THAT(result.degradations, ElementsAre("a_failed"));
  EXPECT_EQ(result.Find("a")->outcome, StageOutcome::kFail);
}

TEST_F(DagRunnerTest, CancelStopsTheTurnAndKeepsPartialResults) {
  Notification b_running;
  fns_["a"] = [&](StageContext&) {
    b_running.WaitForNotificationWithTimeout(kDeadline);
    return StageResult::Cancel("guard said stop", {{"partial", "half a reply"}});
  };
  fns_["b"] = [&](StageContext& context) {
    b_running.Notify();
    return BlockUntilCancelled(context);
  };
  fns_["c"] = [](StageContext&) { return StageResult::Ok(); };
  TurnResult result =
      Run("stages { name: 'a' type: 'fn' } stages { name: 'b' type: 'fn' }"
          "stages { name: 'c' type: 'fn' depends_on: 'a' }");
  EXPECT_EQ(result.status, TurnStatus::kCancelled);
  EXPECT_EQ(result.error.message(), "guard said stop");
  EXPECT_EQ(result.Find("a")->outputs.at("partial"), "half a reply");
  EXPECT_EQ(result.Find("b")->outcome, StageOutcome::kCancel);
  EXPECT_FALSE(result.Find("c")->ran);
}

TEST_F(DagRunnerTest, RetryRunsAgainWithExponentialBackoff) {
  std::atomic<int> calls{0};
  std::vector<absl::Time> attempt_times;
  fns_["a"] = [&](StageContext& context) {
    attempt_times.push_back(absl::Now());
    EXPECT_EQ(context.attempt(), calls + 1);
    if (++calls < 3) return StageResult::Retry(absl::UnavailableError("busy"));
    return StageResult::Ok({{"n", std::to_string(calls)}});
  };
  TurnResult result =
      Run("stages { name: 'a' type: 'fn' retry { max_attempts: 3 initial_backoff_ms: 30"
          "  multiplier: 2 max_backoff_ms: 1000 } }");
  EXPECT_EQ(result.status, TurnStatus::kOk);
  EXPECT_EQ(result.Find("a")->attempts, 3);
  ASSERT_EQ(attempt_times.size(), 3u);
  EXPECT_GE(attempt_times[1] - attempt_times[0], absl::Milliseconds(30));
  EXPECT_GE(attempt_times[2] - attempt_times[1], absl::Milliseconds(60));
  std::vector<int64_t> backoffs;
  for (const v1::StageEvent& event : full_events()) {
    if (event.status() == v1::StageEvent::RETRY) {
      backoffs.push_back(event.duration_ms());
      EXPECT_EQ(event.name(), "stage.a.retried");
      EXPECT_EQ(event.error(), "busy");
    }
  }
  EXPECT_THAT(backoffs, ElementsAre(30, 60));
}

TEST_F(DagRunnerTest, RetriesRunOutIntoAFailure) {
  fns_["a"] = [](StageContext&) { return StageResult::Retry(absl::UnavailableError("down")); };
  TurnResult result =
      Run("stages { name: 'a' type: 'fn' retry { max_attempts: 2 initial_backoff_ms: 1 } }");
  EXPECT_EQ(result.status, TurnStatus::kFailed);
  EXPECT_EQ(result.error, absl::UnavailableError("stage 'a' failed: down (after 2 attempts)"));
}

TEST(RetryBackoffTest, GrowsCapsAndJittersWithinBounds) {
  v1::RetryPolicy policy;
  policy.set_initial_backoff_ms(100);
  policy.set_max_backoff_ms(350);
  std::mt19937 rng(7);
  EXPECT_EQ(RetryBackoff(policy, 1, rng), absl::Milliseconds(100));
  EXPECT_EQ(RetryBackoff(policy, 2, rng), absl::Milliseconds(200));  // Multiplier 0 means 2.
  EXPECT_EQ(RetryBackoff(policy, 3, rng), absl::Milliseconds(350));  // Capped.
  policy.set_jitter(0.2);
  for (int i = 0; i < 100; ++i) {
    const absl::Duration d = RetryBackoff(policy, 1, rng);
    EXPECT_GE(d, absl::Milliseconds(80));
    EXPECT_LE(d, absl::Milliseconds(120));
  }
}

TEST_F(DagRunnerTest, TimeoutCancelsTheAttemptAndFailsOrDegrades) {
  fns_["a"] = BlockUntilCancelled;
  fns_["b"] = BlockUntilCancelled;
  TurnResult failed = Run("stages { name: 'a' type: 'fn' timeout_ms: 30 }");
  EXPECT_EQ(failed.status, TurnStatus::kFailed);
  EXPECT_EQ(failed.error,
            absl::DeadlineExceededError("stage 'a' failed: stage 'a' timed out after 30 ms"));
  EXPECT_TRUE(failed.Find("a")->timed_out);

  TurnResult degraded =
      Run("stages { name: 'b' type: 'fn' timeout_ms: 30 failure_policy: DEGRADE }");
  EXPECT_EQ(degraded.status, TurnStatus::kOk);
  EXPECT_THAT(degraded.degradations, ElementsAre("b_timeout"));
}

TEST_F(DagRunnerTest, StreamingConsumerStartsWithItsProducerAndGetsItemsInOrder) {
  Notification first_item_consumed;
  absl::Time producer_end;
  fns_["producer"] = [&](StageContext& context) {
    context.StreamOut("one.");
    // The consumer must get "one." while the producer still runs.
    if (!first_item_consumed.WaitForNotificationWithTimeout(kDeadline)) {
      return StageResult::Fail(absl::InternalError("consumer did not stream"));
    }
    context.StreamOut("two.");
    context.StreamOut("three.");
    producer_end = absl::Now();
    return StageResult::Ok({{"reply", "one. two. three."}});
  };
  std::vector<std::string> got;
  fns_["consumer"] = [&](StageContext& context) {
    TextStream* in = context.StreamFrom("producer");
    if (in == nullptr) return StageResult::Fail(absl::InternalError("no stream"));
    while (auto item = in->Get(absl::Now() + kDeadline)) {
      got.push_back(*item);
      if (!first_item_consumed.HasBeenNotified()) first_item_consumed.Notify();
    }
    return StageResult::Ok();
  };
  TurnResult result =
      Run("stages { name: 'producer' type: 'fn' }"
          "stages { name: 'consumer' type: 'fn' depends_on: 'producer' streams_from: 'producer' }");
  EXPECT_EQ(result.status, TurnStatus::kOk) << result.error;
  EXPECT_THAT(got, ElementsAre("one.", "two.", "three."));
  EXPECT_LT(result.Find("consumer")->start, producer_end);
}

TEST_F(DagRunnerTest, ExternalCancelStopsRunningStagesAndStartsNothingNew) {
  Notification running;
  fns_["a"] = [&](StageContext& context) {
    running.Notify();
    return BlockUntilCancelled(context);
  };
  fns_["b"] = [](StageContext&) { return StageResult::Ok(); };
  auto run =
      Start("stages { name: 'a' type: 'fn' } stages { name: 'b' type: 'fn' depends_on: 'a' }");
  ASSERT_TRUE(running.WaitForNotificationWithTimeout(kDeadline));
  run->Cancel(absl::CancelledError("client went away"));
  TurnResult result = run->Wait();
  EXPECT_EQ(result.status, TurnStatus::kCancelled);
  EXPECT_EQ(result.Find("a")->outcome, StageOutcome::kCancel);
  EXPECT_EQ(result.Find("a")->error.message(), "client went away");
  EXPECT_FALSE(result.Find("b")->ran);
}

TEST_F(DagRunnerTest, CancellingStagesByTypeLetsTheOthersFinish) {
  Notification running;
  fns_["llm"] = [&](StageContext& context) {
    running.Notify();
    return BlockUntilCancelled(context);
  };
  fns_["save"] = [](StageContext& context) {
    return StageResult::Ok(
        {{"saw", std::string(StageOutcomeName(context.dependency("llm")->outcome))}});
  };
  auto spec = ParsePipelineSpec(
      "name: 't' stages { name: 'llm' type: 'llm' }"
      "stages { name: 'save' type: 'save' depends_on: 'llm' }",
      "test");
  auto graph = std::make_shared<PipelineGraph>(*PipelineGraph::Build(*spec, {"llm", "save"}));
  StageFactories factories;
  for (const char* type : {"llm", "save"}) {
    factories[type] = [this](const v1::StageSpec& spec) -> std::unique_ptr<Stage> {
      return std::make_unique<FnStage>(fns_.at(spec.name()));
    };
  }
  auto run = DagRun::Start(graph, factories, {});
  ASSERT_TRUE(running.WaitForNotificationWithTimeout(kDeadline));
  run->CancelStagesOfType({"llm"}, absl::CancelledError("barge-in"));
  TurnResult result = run->Wait();
  EXPECT_EQ(result.status, TurnStatus::kCancelled);
  EXPECT_EQ(result.Find("llm")->outcome, StageOutcome::kCancel);
  EXPECT_EQ(result.Find("save")->outputs.at("saw"), "CANCEL");
}

TEST_F(DagRunnerTest, HeldStagesWaitForReleaseWhileTheOthersRun) {
  Notification listened;
  std::atomic<bool> released{false};
  fns_["listen"] = [&](StageContext&) {
    listened.Notify();
    return StageResult::Ok({{"transcript", "hi"}});
  };
  fns_["fetch"] = [&](StageContext&) {
    EXPECT_TRUE(released.load()) << "a held stage ran before Release()";
    return StageResult::Ok();
  };
  fns_["reply"] = [&](StageContext& context) {
    EXPECT_TRUE(released.load());
    return StageResult::Ok({{"reply", context.Input("listen", "transcript")}});
  };
  auto run = Start(R"(
    stages { name: "listen" type: "early" }
    stages { name: "fetch" type: "fn" }
    stages { name: "reply" type: "fn" depends_on: "listen" depends_on: "fetch" })",
                   {"early"});
  ASSERT_TRUE(listened.WaitForNotificationWithTimeout(kDeadline));
  absl::SleepFor(absl::Milliseconds(50));  // Time for a wrong start to show.
  EXPECT_FALSE(run->done());
  EXPECT_THAT(events(), ElementsAre("stage.listen.started", "stage.listen.completed"));
  released = true;
  run->Release();
  run->Release();  // Idempotent.
  const TurnResult result = run->Wait();
  EXPECT_EQ(result.status, TurnStatus::kOk);
  EXPECT_EQ(result.Find("reply")->outputs.at("reply"), "hi");
}

TEST_F(DagRunnerTest, CancellingAHeldRunEndsItWithoutStartingTheHeldStages) {
  fns_["listen"] = [](StageContext&) { return StageResult::Ok(); };
  fns_["reply"] = [](StageContext&) { return StageResult::Ok(); };
  auto run = Start(R"(
    stages { name: "listen" type: "early" }
    stages { name: "reply" type: "fn" depends_on: "listen" })",
                   {"early"});
  run->Cancel(absl::CancelledError("session closed"));
  const TurnResult result = run->Wait();
  EXPECT_EQ(result.status, TurnStatus::kCancelled);
  EXPECT_FALSE(result.Find("reply")->ran);
}

}  // namespace
}  // namespace voxflow::orchestrator
