#include "services/common/timer_queue.h"

#include <atomic>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/common/cancellation.h"
#include "services/common/notification.h"

namespace voxflow {
namespace {

TEST(TimerQueueTest, RunsCallbacksInTimeOrder) {
  TimerQueue timers;
  std::mutex mu;
  std::vector<int> order;
  Notification done;
  const absl::Time now = absl::Now();
  timers.Schedule(now + absl::Milliseconds(30), [&] {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(3);
    done.Notify();
  });
  timers.Schedule(now + absl::Milliseconds(10), [&] {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(1);
  });
  timers.Schedule(now + absl::Milliseconds(20), [&] {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(2);
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TimerQueueTest, CancelledTimerNeverRuns) {
  TimerQueue timers;
  std::atomic<bool> ran{false};
  Notification later;
  const int64_t id = timers.Schedule(absl::Now() + absl::Milliseconds(20), [&] { ran = true; });
  EXPECT_TRUE(timers.Cancel(id));
  EXPECT_FALSE(timers.Cancel(id));
  timers.Schedule(absl::Now() + absl::Milliseconds(40), [&] { later.Notify(); });
  ASSERT_TRUE(later.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(ran);
}

TEST(TimerQueueTest, CancellingNoTimerReturnsAtOnce) {
  TimerQueue timers;
  EXPECT_FALSE(timers.Cancel(0)) << "0 is no timer: it must not wait for 'none running'";
}

TEST(CancellationTokenTest, ChildFollowsParentWithItsReason) {
  auto parent = CancellationToken::Create();
  auto child = CancellationToken::CreateChild(parent);
  absl::Status seen;
  child->OnCancel([&](const absl::Status& reason) { seen = reason; });
  EXPECT_FALSE(child->WaitFor(absl::Milliseconds(1)));
  parent->Cancel(absl::DeadlineExceededError("turn timed out"));
  EXPECT_TRUE(child->cancelled());
  EXPECT_EQ(seen, absl::DeadlineExceededError("turn timed out"));
  EXPECT_TRUE(child->WaitFor(absl::Seconds(10)));
}

TEST(CancellationTokenTest, ChildCancelLeavesParentAlone) {
  auto parent = CancellationToken::Create();
  auto child = CancellationToken::CreateChild(parent);
  child->Cancel(absl::CancelledError("attempt timed out"));
  EXPECT_FALSE(parent->cancelled());
  EXPECT_TRUE(parent->reason().ok());
}

TEST(CancellationTokenTest, CallbackAfterCancelRunsAtOnceAndRemovedOnesNever) {
  auto token = CancellationToken::Create();
  bool removed_ran = false;
  const int64_t id = token->OnCancel([&](const absl::Status&) { removed_ran = true; });
  token->RemoveCallback(id);
  token->Cancel(absl::CancelledError("x"));
  EXPECT_FALSE(removed_ran);
  bool late_ran = false;
  token->OnCancel([&](const absl::Status&) { late_ran = true; });
  EXPECT_TRUE(late_ran);
}

}  // namespace
}  // namespace voxflow
