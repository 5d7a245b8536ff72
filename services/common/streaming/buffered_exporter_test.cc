#include "services/common/streaming/buffered_exporter.h"

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow::streaming {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// Collects batches from the sink and lets a test wait for them (with a deadline).
class SinkRecorder {
 public:
  std::function<void(std::vector<TelemetryEvent>)> Sink() {
    return [this](std::vector<TelemetryEvent> batch) {
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<std::string> names;
      for (auto& event : batch) {
        names.push_back(event.name);
        events_.push_back(event);
      }
      batches_.push_back(std::move(names));
      changed_.notify_all();
    };
  }
  // Waits until `n` events have arrived in all; false at the deadline.
  bool WaitForEvents(size_t n, absl::Duration timeout = absl::Seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                             [&] { return CountLocked() >= n; });
  }
  std::vector<std::vector<std::string>> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  std::vector<TelemetryEvent> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return CountLocked();
  }

 private:
  size_t CountLocked() const {
    size_t n = 0;
    for (const auto& b : batches_) n += b.size();
    return n;
  }
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::vector<std::string>> batches_;
  std::vector<TelemetryEvent> events_;
};

TelemetryEvent Event(int i) { return {"e" + std::to_string(i), {}, absl::Now()}; }

TEST(BufferedExporterTest, DefaultsFollowStageflow) {
  BufferedExporterOptions options;
  EXPECT_EQ(options.batch_size, 100u);
  EXPECT_EQ(options.flush_interval, absl::Seconds(10));
  EXPECT_EQ(options.max_buffer_size, 10000u);
}

TEST(BufferedExporterTest, FlushesFullBatchesThenTheRestOnClose) {
  SinkRecorder sink;
  BufferedExporter exporter(
      {.batch_size = 3, .flush_interval = absl::Hours(1), .sink = sink.Sink()});
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(exporter.Export(Event(i)));
  ASSERT_TRUE(sink.WaitForEvents(6));
  exporter.Close();
  EXPECT_THAT(sink.batches(), ElementsAre(ElementsAre("e0", "e1", "e2"),
                                          ElementsAre("e3", "e4", "e5"), ElementsAre("e6")));
  EXPECT_EQ(exporter.stats().exported_count, 7);
  EXPECT_FALSE(exporter.Export(Event(8))) << "closed";
}

TEST(BufferedExporterTest, TimerFlushesAPartialBatch) {
  SinkRecorder sink;
  BufferedExporter exporter(
      {.batch_size = 100, .flush_interval = absl::Milliseconds(10), .sink = sink.Sink()});
  ASSERT_TRUE(exporter.Export(Event(1)));
  ASSERT_TRUE(exporter.Export(Event(2)));
  ASSERT_TRUE(sink.WaitForEvents(2));
  EXPECT_EQ(exporter.stats().buffer_size, 0u);
}

TEST(BufferedExporterTest, FullBufferDropsOldestAndWarnsAt80Percent) {
  SinkRecorder sink;
  std::vector<std::pair<int64_t, size_t>> overflows;
  BufferedExporter exporter({.batch_size = 100,
                             .flush_interval = absl::Hours(1),
                             .max_buffer_size = 10,
                             .sink = sink.Sink(),
                             .on_overflow = [&](int64_t dropped, size_t size) {
                               overflows.emplace_back(dropped, size);
                             }});
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(exporter.Export(Event(i)));
  // The size after the drop, before the new event is added (9 of 10), as Stageflow reports it.
  EXPECT_THAT(overflows, ElementsAre(Pair(-1, 8u), Pair(1, 9u), Pair(2, 9u)));
  const BufferedExporterStats stats = exporter.stats();
  EXPECT_EQ(stats.buffer_size, 10u);
  EXPECT_EQ(stats.max_buffer_size, 10u);
  EXPECT_EQ(stats.dropped_count, 2);
  EXPECT_DOUBLE_EQ(stats.fill_ratio, 1.0);
  exporter.Close();
  ASSERT_EQ(sink.batches().size(), 1u);
  EXPECT_EQ(sink.batches()[0].front(), "e2") << "the oldest were dropped";
}

TEST(BufferedExporterTest, WarningRearmsBelow40Percent) {
  std::vector<std::pair<int64_t, size_t>> overflows;
  BufferedExporter exporter({.batch_size = 100,
                             .flush_interval = absl::Hours(1),
                             .max_buffer_size = 10,
                             .on_overflow = [&](int64_t dropped, size_t size) {
                               overflows.emplace_back(dropped, size);
                             }});
  for (int i = 0; i < 9; ++i) exporter.Export(Event(i));
  EXPECT_EQ(overflows.size(), 1u) << "warned once while above 80 %";
  exporter.Flush();
  for (int i = 0; i < 8; ++i) exporter.Export(Event(i));
  EXPECT_THAT(overflows, ElementsAre(Pair(-1, 8u), Pair(-1, 8u)));
}

TEST(BufferedExporterTest, EmitterExportsStampedEvents) {
  SinkRecorder sink;
  BufferedExporter exporter({.batch_size = 1, .sink = sink.Sink()});
  const absl::Time before = absl::Now();
  exporter.Emitter()("stream.chunk_dropped", {{"reason", "overflow"}});
  ASSERT_TRUE(sink.WaitForEvents(1));
  const std::vector<TelemetryEvent> events = sink.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name, "stream.chunk_dropped");
  EXPECT_EQ(events[0].attributes, (EventAttributes{{"reason", "overflow"}}));
  EXPECT_GE(events[0].time, before);
}

TEST(BufferedExporterTest, ConcurrentExportersLoseNothing) {
  SinkRecorder sink;
  BufferedExporter exporter(
      {.batch_size = 50, .flush_interval = absl::Milliseconds(5), .sink = sink.Sink()});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) ASSERT_TRUE(exporter.Export(Event(i)));
    });
  }
  for (auto& thread : threads) thread.join();
  exporter.Close();
  EXPECT_EQ(sink.count(), 4000u);
  EXPECT_EQ(exporter.stats().dropped_count, 0);
}

}  // namespace
}  // namespace voxflow::streaming
