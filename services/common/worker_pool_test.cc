#include "services/common/worker_pool.h"

#include <atomic>
#include <mutex>
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

}  // namespace
}  // namespace voxflow
