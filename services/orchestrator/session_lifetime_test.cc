#include "services/orchestrator/session_lifetime.h"

#include <atomic>
#include <mutex>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "services/common/notification.h"
#include "services/common/timer_queue.h"

namespace voxflow::orchestrator {
namespace {

// Time is passed in, so the limits are checked at chosen instants; only the wake timer runs on
// a real TimerQueue (it fires at once for a limit already due).
const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(SessionLifetimeTest, DurationLimitExpiresOnce) {
  TimerQueue timers;
  SessionLifetime lifetime(absl::Seconds(60), absl::ZeroDuration(), &timers, kStart);
  EXPECT_TRUE(lifetime.Expire(kStart + absl::Seconds(60), /*quiet=*/false).ok());
  absl::Status s = lifetime.Expire(kStart + absl::Seconds(61), /*quiet=*/false);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(s.message().find("limit of 1m"), std::string::npos) << s.message();
  EXPECT_TRUE(lifetime.expired());
  EXPECT_TRUE(lifetime.Expire(kStart + absl::Seconds(62), /*quiet=*/false).ok());
}

TEST(SessionLifetimeTest, IdleLimitCountsFromTheLastRequestAndOnlyWhileQuiet) {
  TimerQueue timers;
  SessionLifetime lifetime(absl::ZeroDuration(), absl::Seconds(10), &timers, kStart);
  lifetime.Touch(kStart + absl::Seconds(5));
  EXPECT_TRUE(lifetime.Expire(kStart + absl::Seconds(14), /*quiet=*/true).ok());
  // A turn running keeps the session alive however long the caller is silent.
  EXPECT_TRUE(lifetime.Expire(kStart + absl::Seconds(30), /*quiet=*/false).ok());
  absl::Status s = lifetime.Expire(kStart + absl::Seconds(30), /*quiet=*/true);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(s.message().find("--session_idle_timeout"), std::string::npos) << s.message();
}

TEST(SessionLifetimeTest, NoLimitsNeverExpire) {
  TimerQueue timers;
  SessionLifetime lifetime(absl::ZeroDuration(), absl::ZeroDuration(), &timers, kStart);
  EXPECT_TRUE(lifetime.Expire(kStart + absl::Hours(100), /*quiet=*/true).ok());
  EXPECT_FALSE(lifetime.expired());
}

TEST(SessionLifetimeTest, WakesOnceUntilItSleeps) {
  TimerQueue timers;
  SessionLifetime lifetime(absl::ZeroDuration(), absl::ZeroDuration(), &timers, kStart);
  int wakes = 0;
  lifetime.SetWaker([&] { ++wakes; });
  EXPECT_EQ(wakes, 1);  // Starts on the ticker.
  lifetime.Wake();
  EXPECT_EQ(wakes, 1);  // Already on it.
  lifetime.Sleep(kStart, [](int64_t) { ADD_FAILURE() << "no limit: no timer"; });
  lifetime.Wake();
  EXPECT_EQ(wakes, 2);
  lifetime.Stop();
  lifetime.Sleep(kStart, [](int64_t) {});
  lifetime.Wake();
  EXPECT_EQ(wakes, 2);  // Stopped: no more ticks.
}

TEST(SessionLifetimeTest, SleepingSessionIsWokenWhenALimitFallsDue) {
  TimerQueue timers;
  std::mutex mu;  // Stands for the session's lock.
  // The idle limit is already due (time passed in is in the past): the timer fires at once.
  const absl::Time created = absl::Now() - absl::Seconds(20);
  SessionLifetime lifetime(absl::ZeroDuration(), absl::Seconds(10), &timers, created);
  std::atomic<int> wakes = 0;
  Notification woken;
  {
    std::lock_guard<std::mutex> lock(mu);
    lifetime.SetWaker([&] {
      if (++wakes == 2) woken.Notify();
    });
    lifetime.Sleep(created + absl::Seconds(5), [&](int64_t generation) {
      std::lock_guard<std::mutex> lock(mu);
      lifetime.WakeOnTimer(generation);
    });
  }
  ASSERT_TRUE(woken.WaitForNotificationWithTimeout(absl::Seconds(30)));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(lifetime.TakeTimersToCancel().empty());  // The timer that fired is not pending.
}

TEST(SessionLifetimeTest, ATimerFromAnEarlierSleepIsStaleAndLeftToCancelOutsideTheLock) {
  TimerQueue timers;
  // Limits far ahead: the timer stays pending.
  SessionLifetime lifetime(absl::Hours(1), absl::ZeroDuration(), &timers, absl::Now());
  int wakes = 0;
  lifetime.SetWaker([&] { ++wakes; });
  int64_t stale_generation = -1;
  lifetime.Sleep(absl::Now(), [](int64_t) {});
  lifetime.Wake();  // A request came: the pending timer is no longer needed.
  EXPECT_EQ(wakes, 2);
  const std::vector<int64_t> to_cancel = lifetime.TakeTimersToCancel();
  ASSERT_EQ(to_cancel.size(), 1u);
  EXPECT_TRUE(timers.Cancel(to_cancel[0]));  // Was still pending.
  // A timer callback from before the wake (running when it came) changes nothing.
  lifetime.Sleep(absl::Now(), [&](int64_t generation) { stale_generation = generation; });
  lifetime.Wake();
  lifetime.WakeOnTimer(/*generation=*/1);
  EXPECT_EQ(wakes, 3);
  for (int64_t timer : lifetime.TakeTimersToCancel()) timers.Cancel(timer);
  EXPECT_EQ(stale_generation, -1);
}

TEST(SessionLifetimeTest, StopLeavesThePendingTimerToCancel) {
  TimerQueue timers;
  SessionLifetime lifetime(absl::Hours(1), absl::ZeroDuration(), &timers, absl::Now());
  lifetime.SetWaker([] {});
  lifetime.Sleep(absl::Now(), [](int64_t) { ADD_FAILURE() << "cancelled"; });
  lifetime.Stop();
  const std::vector<int64_t> to_cancel = lifetime.TakeTimersToCancel();
  ASSERT_EQ(to_cancel.size(), 1u);
  EXPECT_TRUE(timers.Cancel(to_cancel[0]));
}

}  // namespace
}  // namespace voxflow::orchestrator
