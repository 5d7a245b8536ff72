#include "services/orchestrator/turn_queue.h"

#include <atomic>
#include <memory>

#include "gtest/gtest.h"
#include "services/orchestrator/pipeline/dag_runner.h"
#include "services/orchestrator/pipeline/pipeline_spec_loader.h"

namespace voxflow::orchestrator {
namespace {

class OkStage final : public Stage {
 public:
  explicit OkStage(std::atomic<int>* runs) : runs_(runs) {}
  StageResult Run(StageContext&) override {
    ++*runs_;
    return StageResult::Ok();
  }

 private:
  std::atomic<int>* runs_;
};

class TurnQueueTest : public ::testing::Test {
 protected:
  std::shared_ptr<Turn> NewTurn(int id) {
    return std::make_shared<Turn>(std::weak_ptr<TurnHost>(), "s-1",
                                  std::make_shared<v1::SessionConfig>(), id, "hello", nullptr);
  }
  // A run whose one stage is held until Release.
  std::shared_ptr<DagRun> HeldRun() {
    auto spec = ParsePipelineSpec("name: 'test' stages { name: 'a' type: 'fn' }", "test");
    EXPECT_TRUE(spec.ok()) << spec.status();
    auto graph = PipelineGraph::Build(*spec, {"fn"});
    EXPECT_TRUE(graph.ok()) << graph.status();
    StageFactories factories;
    factories["fn"] = [this](const v1::StageSpec&) { return std::make_unique<OkStage>(&runs_); };
    DagRunOptions options;
    options.run_before_release = {"nothing"};
    return DagRun::Start(std::make_shared<PipelineGraph>(*std::move(graph)), factories,
                         std::move(options));
  }

  std::atomic<int> runs_ = 0;
  TurnQueue queue_;
};

TEST_F(TurnQueueTest, TheFrontIsReleasedOnceAndARunStartedLaterIsReleasedOnAttach) {
  auto first = NewTurn(1);
  auto second = NewTurn(2);
  queue_.Push(first);
  queue_.Push(second);
  EXPECT_EQ(queue_.size(), 2u);
  EXPECT_EQ(queue_.ReleaseFront(), nullptr);  // Its run has not started yet.
  EXPECT_TRUE(first->released);
  EXPECT_FALSE(second->released);

  std::shared_ptr<DagRun> run = HeldRun();
  std::optional<TurnQueue::RunDue> due = queue_.Attach(first, run);
  ASSERT_TRUE(due.has_value());
  EXPECT_TRUE(due->release);  // Reached the front before its run started.
  EXPECT_FALSE(due->cancel);
  EXPECT_EQ(queue_.ReleaseFront(), nullptr);  // Once.
  EXPECT_EQ(queue_.FrontRunning(), run);

  std::shared_ptr<DagRun> second_run = HeldRun();
  due = queue_.Attach(second, second_run);
  EXPECT_FALSE(due->release);  // Waits behind the first.
  queue_.PopFront();
  EXPECT_EQ(queue_.front(), second);
  EXPECT_EQ(queue_.ReleaseFront(), second_run);
  second_run->Release();
  second_run->Wait();
  EXPECT_EQ(runs_, 1);
  run->Cancel(absl::CancelledError("test over"));
}

TEST_F(TurnQueueTest, ARunForATurnInterruptedBeforeItStartedIsCancelled) {
  auto turn = NewTurn(1);
  queue_.Push(turn);
  turn->interrupted = true;
  std::shared_ptr<DagRun> run = HeldRun();
  std::optional<TurnQueue::RunDue> due = queue_.Attach(turn, run);
  ASSERT_TRUE(due.has_value());
  EXPECT_TRUE(due->cancel);
  turn->dag_done = true;
  EXPECT_EQ(queue_.FrontRunning(), nullptr);  // Nothing left to cancel.
  run->Cancel(absl::CancelledError("test over"));
}

TEST_F(TurnQueueTest, TurnsAreFoundByIdAndAllEndWithTheSession) {
  auto first = NewTurn(1);
  auto second = NewTurn(2);
  queue_.Push(first);
  queue_.Push(second);
  EXPECT_EQ(queue_.Find(2), second.get());
  EXPECT_EQ(queue_.Find(3), nullptr);
  std::deque<TurnQueue::Queued> all = queue_.TakeAll();
  EXPECT_EQ(all.size(), 2u);
  EXPECT_TRUE(queue_.empty());
  EXPECT_TRUE(first->completed && second->completed);
  // A run that starts after its turn left the queue is dropped.
  EXPECT_FALSE(queue_.Attach(first, HeldRun()).has_value());
}

}  // namespace
}  // namespace voxflow::orchestrator
