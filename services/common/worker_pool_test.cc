#include "services/common/worker_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace voxflow {
namespace {

TEST(WorkerPoolTest, RunsEveryTaskBeforeShutdown) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(3);
    for (int i = 0; i < 1000; ++i) pool.Submit([&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 1000);
}

TEST(WorkerPoolTest, StopRunsWhatTasksSubmitAndLaterSubmitsRunOnTheCaller) {
  WorkerPool pool(2);
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) {
    pool.Submit([&] {
      ++ran;
      pool.Submit([&] { ++ran; });  // Submitted while stopping: still runs on the pool.
    });
  }
  pool.Stop();
  EXPECT_EQ(ran.load(), 200);
  std::thread::id ran_on;
  pool.Submit([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  pool.Stop();  // Idempotent.
}

TEST(StrandTest, RunsItsTasksInOrderOneAtATime) {
  std::vector<std::vector<int>> seen(4);
  std::atomic<int> concurrent{0}, max_concurrent{0};
  {
    WorkerPool pool(4);
    std::vector<std::shared_ptr<Strand>> strands;
    for (int s = 0; s < 4; ++s) strands.push_back(Strand::Create(&pool));
    for (int i = 0; i < 500; ++i) {
      for (int s = 0; s < 4; ++s) {
        strands[s]->Post([&, s, i] {
          // Per strand, one at a time: no lock needed for seen[s].
          const int now = ++concurrent;
          int expected = max_concurrent.load();
          while (now > expected && !max_concurrent.compare_exchange_weak(expected, now)) {
          }
          seen[s].push_back(i);
          --concurrent;
        });
      }
    }
  }
  for (int s = 0; s < 4; ++s) {
    ASSERT_EQ(seen[s].size(), 500u);
    for (int i = 0; i < 500; ++i) ASSERT_EQ(seen[s][i], i);
  }
  EXPECT_LE(max_concurrent.load(), 4);
}

TEST(StrandTest, RunOrPostRunsOnTheCallersThreadWhenIdleAndKeepsTheOrderWhenNot) {
  WorkerPool pool(2);
  auto strand = Strand::Create(&pool);
  const std::thread::id caller = std::this_thread::get_id();
  bool inline_run = false;
  strand->RunOrPost(
      [&] { inline_run = std::this_thread::get_id() == caller && Strand::RunningInline(); });
  EXPECT_TRUE(inline_run) << "an idle strand runs the task at once, here";
  EXPECT_FALSE(Strand::RunningInline());

  // Busy (a posted task still runs): queued behind it, in order, on the pool.
  std::mutex mu;
  std::condition_variable changed;
  bool release = false;
  std::vector<int> order;
  strand->Post([&] {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return release; });
    order.push_back(1);
  });
  bool ran_here = false;
  strand->RunOrPost([&] {
    std::lock_guard<std::mutex> lock(mu);
    ran_here = std::this_thread::get_id() == caller;
    order.push_back(2);
    changed.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    release = true;
    changed.notify_all();
    ASSERT_TRUE(
        changed.wait_for(lock, std::chrono::seconds(30), [&] { return order.size() == 2; }));
  }
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_FALSE(ran_here);
}

}  // namespace
}  // namespace voxflow
