#include "services/common/streaming/backpressure_monitor.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace voxflow::streaming {
namespace {

using Change = BackpressureMonitor::Change;

TEST(BackpressureMonitorTest, HysteresisOracle) {
  // Stageflow's own case: 85 % starts throttling, 30 % keeps it, 15 % ends it.
  BackpressureMonitor monitor;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_EQ(monitor.Update(85, 100, t0), Change::kStarted);
  EXPECT_TRUE(monitor.throttled());
  EXPECT_EQ(monitor.Update(30, 100, t0 + absl::Milliseconds(10)), Change::kNone);
  EXPECT_TRUE(monitor.throttled());
  EXPECT_EQ(monitor.Update(15, 100, t0 + absl::Milliseconds(50)), Change::kEnded);
  EXPECT_FALSE(monitor.throttled());
  EXPECT_EQ(monitor.throttle_count(), 1);
  EXPECT_EQ(monitor.throttled_time(t0 + absl::Seconds(9)), absl::Milliseconds(50));
}

TEST(BackpressureMonitorTest, ThresholdsAreInclusiveAndStateHoldsBetween) {
  BackpressureMonitor monitor;
  const absl::Time t = absl::FromUnixSeconds(1);
  EXPECT_EQ(monitor.Update(79, 100, t), Change::kNone);
  EXPECT_EQ(monitor.Update(50, 100, t), Change::kNone);
  EXPECT_FALSE(monitor.throttled());
  EXPECT_EQ(monitor.Update(80, 100, t), Change::kStarted);
  EXPECT_EQ(monitor.Update(99, 100, t), Change::kNone);
  EXPECT_EQ(monitor.Update(21, 100, t), Change::kNone);
  EXPECT_EQ(monitor.Update(20, 100, t), Change::kEnded);
  EXPECT_EQ(monitor.Update(50, 100, t), Change::kNone);
  EXPECT_FALSE(monitor.throttled());
}

TEST(BackpressureMonitorTest, EventsCarryFillAndSize) {
  BackpressureMonitor monitor;
  PendingEvents events;
  std::vector<std::pair<std::string, EventAttributes>> seen;
  monitor.Update(17, 20, absl::Now(), &events);
  monitor.Update(3, 20, absl::Now(), &events);
  events.EmitTo([&](absl::string_view name, const EventAttributes& a) {
    seen.emplace_back(std::string(name), a);
  });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, "stream.throttle_started");
  EXPECT_EQ(seen[0].second, (EventAttributes{{"fill_percentage", "85.0"}, {"queue_size", "17"}}));
  EXPECT_EQ(seen[1].first, "stream.throttle_ended");
  EXPECT_EQ(seen[1].second, (EventAttributes{{"fill_percentage", "15.0"}, {"queue_size", "3"}}));
}

TEST(BackpressureMonitorTest, OpenWindowCountsTowardThrottledTime) {
  BackpressureMonitor monitor;
  const absl::Time t0 = absl::FromUnixSeconds(5);
  monitor.Update(10, 10, t0);
  EXPECT_EQ(monitor.throttled_time(t0 + absl::Milliseconds(250)), absl::Milliseconds(250));
}

}  // namespace
}  // namespace voxflow::streaming
