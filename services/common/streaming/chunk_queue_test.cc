#include "services/common/streaming/chunk_queue.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow::streaming {
namespace {

using ::testing::ElementsAre;

// Records emitted events; thread-safe.
class EventLog {
 public:
  EventEmitter Emitter() {
    return [this](absl::string_view name, const EventAttributes& attributes) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.emplace_back(std::string(name), attributes);
    };
  }
  std::vector<std::string> Names() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> names;
    for (const auto& e : events_) names.push_back(e.first);
    return names;
  }
  std::vector<std::pair<std::string, EventAttributes>> Events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, EventAttributes>> events_;
};

std::vector<int> Drain(ChunkQueue<int>& queue) {
  std::vector<int> items;
  while (auto item = queue.TryGet()) items.push_back(*item);
  return items;
}

TEST(ChunkQueueTest, DefaultsFollowStageflow) {
  ChunkQueueOptions options;
  EXPECT_EQ(options.max_size, 100u);
  EXPECT_FALSE(options.drop_on_overflow);
  ChunkQueue<int> queue;
  EXPECT_EQ(queue.max_size(), 100u);
  EXPECT_DOUBLE_EQ(queue.stats().drop_rate(), 0.0) << "no division by zero";
}

TEST(ChunkQueueTest, DropModeOracle) {
  // Stageflow's own case: max 3, drop mode, put 0..4.
  EventLog log;
  ChunkQueue<int> queue({.max_size = 3, .drop_on_overflow = true, .emitter = log.Emitter()});
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(queue.Put(int{i}));
    if (i == 1) {
      EXPECT_THAT(log.Names(), ElementsAre());
    }
    if (i == 2) {
      EXPECT_THAT(log.Names(), ElementsAre("stream.throttle_started"));
    }
  }
  const ChunkQueueStats stats = queue.stats();
  EXPECT_EQ(stats.total_items, 5);
  EXPECT_EQ(stats.dropped_items, 2);
  EXPECT_DOUBLE_EQ(stats.drop_rate(), 0.4);
  EXPECT_EQ(stats.max_queue_size, 3u);
  EXPECT_EQ(stats.blocked_puts, 0);
  EXPECT_THAT(log.Names(), ElementsAre("stream.throttle_started", "stream.chunk_dropped",
                                       "stream.chunk_dropped"));
  // Stageflow's order: drop the oldest, count, emit (the size after the drop: 2 of 3), then add.
  EXPECT_EQ(log.Events()[1].second,
            (EventAttributes{{"queue_size", "2"}, {"max_size", "3"}, {"reason", "overflow"}}));
  EXPECT_THAT(Drain(queue), ElementsAre(2, 3, 4));
}

TEST(ChunkQueueTest, DrainingEndsTheThrottleWindow) {
  EventLog log;
  ChunkQueue<int> queue({.max_size = 10, .emitter = log.Emitter()});
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(queue.TryPut(int{i}));
  EXPECT_TRUE(queue.stats().throttled);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(queue.TryGet().has_value());
  EXPECT_TRUE(queue.stats().throttled) << "30 % keeps throttling";
  ASSERT_TRUE(queue.TryGet().has_value());  // 20 %.
  EXPECT_FALSE(queue.stats().throttled);
  EXPECT_THAT(log.Names(), ElementsAre("stream.throttle_started", "stream.throttle_ended"));
  EXPECT_EQ(log.Events()[1].second,
            (EventAttributes{{"fill_percentage", "20.0"}, {"queue_size", "2"}}));
  EXPECT_EQ(queue.stats().throttle_count, 1);
}

TEST(ChunkQueueTest, PutOnClosedQueueCountsNothing) {
  EventLog log;
  ChunkQueue<int> queue({.max_size = 2, .emitter = log.Emitter()});
  queue.Close();
  EXPECT_FALSE(queue.Put(1));
  EXPECT_FALSE(queue.TryPut(2));
  EXPECT_EQ(queue.stats().total_items, 0);
  EXPECT_THAT(log.Names(), ElementsAre("stream.queue_closed"));
}

TEST(ChunkQueueTest, CloseEmitsStatsOnceAndGetDrainsTheRest) {
  EventLog log;
  ChunkQueue<int> queue({.max_size = 4, .emitter = log.Emitter()});
  ASSERT_TRUE(queue.Put(7));
  ASSERT_TRUE(queue.Put(8));
  queue.Close();
  queue.Close();
  EXPECT_EQ(queue.Get(), 7);
  EXPECT_EQ(queue.Get(), 8);
  EXPECT_EQ(queue.Get(), std::nullopt);
  const auto events = log.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].first, "stream.queue_closed");
  EXPECT_EQ(events[0].second.at("total_items"), "2");
  EXPECT_EQ(events[0].second.at("dropped_items"), "0");
  EXPECT_EQ(events[0].second.at("queue_size"), "2");
  EXPECT_EQ(events[0].second.at("drop_rate"), "0.0000");
}

TEST(ChunkQueueTest, FullPutWaitsUntilDeadlineAndCountsABlockedPut) {
  EventLog log;
  ChunkQueue<std::unique_ptr<int>> queue({.max_size = 1, .emitter = log.Emitter()});
  ASSERT_TRUE(queue.Put(std::make_unique<int>(1)));
  auto item = std::make_unique<int>(2);
  EXPECT_FALSE(queue.Put(std::move(item), absl::Now() + absl::Milliseconds(20)));
  ASSERT_NE(item, nullptr) << "a refused item is left with the caller";
  EXPECT_EQ(*item, 2);
  const ChunkQueueStats stats = queue.stats();
  EXPECT_EQ(stats.blocked_puts, 1);
  EXPECT_GE(stats.total_blocked_ms, 1.0);
  EXPECT_EQ(stats.total_items, 1);
  const auto events = log.Events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().first, "stream.producer_blocked");
  EXPECT_EQ(events.back().second.at("queue_size"), "1");
}

TEST(ChunkQueueTest, ProducerBlockedReportsTheSizeWhenTheWaitEnds) {
  // As Stageflow measures it: once the wait is over and the put done, the queue is full again.
  EventLog log;
  ChunkQueue<int> queue({.max_size = 2, .emitter = log.Emitter()});
  ASSERT_TRUE(queue.Put(1));
  ASSERT_TRUE(queue.Put(2));
  std::thread consumer([&] {
    absl::SleepFor(absl::Milliseconds(200));  // The producer is blocked by then.
    EXPECT_EQ(queue.Get(absl::Now() + absl::Seconds(10)), 1);
  });
  ASSERT_TRUE(queue.Put(3, absl::Now() + absl::Seconds(30)));
  consumer.join();
  std::vector<std::pair<std::string, EventAttributes>> blocked;
  for (const auto& event : log.Events()) {
    if (event.first == "stream.producer_blocked") blocked.push_back(event);
  }
  ASSERT_EQ(blocked.size(), 1u);
  EXPECT_EQ(blocked[0].second.at("queue_size"), "2");
}

TEST(ChunkQueueTest, TryPutOnFullQueueLeavesTheItem) {
  ChunkQueue<std::unique_ptr<int>> queue({.max_size = 1});
  ASSERT_TRUE(queue.TryPut(std::make_unique<int>(1)));
  auto item = std::make_unique<int>(2);
  EXPECT_FALSE(queue.TryPut(std::move(item)));
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(queue.stats().total_items, 1);
}

TEST(ChunkQueueTest, BlockedPutProceedsWhenAConsumerMakesRoom) {
  ChunkQueue<int> queue({.max_size = 1});
  ASSERT_TRUE(queue.Put(1));
  std::thread producer([&] { EXPECT_TRUE(queue.Put(2)); });
  EXPECT_EQ(queue.Get(), 1);
  EXPECT_EQ(queue.Get(absl::Now() + absl::Seconds(30)), 2);
  producer.join();
}

TEST(ChunkQueueTest, GetWaitsForAnItemOrTheDeadline) {
  ChunkQueue<int> queue;
  EXPECT_EQ(queue.Get(absl::Now() + absl::Milliseconds(5)), std::nullopt);
  std::thread consumer([&] { EXPECT_EQ(queue.Get(), 42); });
  ASSERT_TRUE(queue.Put(42));
  consumer.join();
}

TEST(ChunkQueueTest, CloseWakesBlockedProducersAndConsumers) {
  ChunkQueue<int> full({.max_size = 1});
  ASSERT_TRUE(full.Put(1));
  ChunkQueue<int> empty;
  std::thread producer([&] { EXPECT_FALSE(full.Put(2)); });
  std::thread consumer([&] { EXPECT_EQ(empty.Get(), std::nullopt); });
  full.Close();
  empty.Close();
  producer.join();
  consumer.join();
  EXPECT_EQ(full.stats().total_items, 1);
}

TEST(ChunkQueueTest, NotifiesWhenReadable) {
  ChunkQueue<int> queue({.max_size = 2});
  int calls = 0;
  queue.NotifyWhenReadable([&] { ++calls; });
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(queue.TryPut(1));
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(queue.TryPut(2));
  EXPECT_EQ(calls, 1) << "one-shot";
  queue.NotifyWhenReadable([&] { ++calls; });
  EXPECT_EQ(calls, 2) << "already readable: runs at once";
}

TEST(ChunkQueueTest, NotifiesWhenWritable) {
  ChunkQueue<int> queue({.max_size = 1});
  ASSERT_TRUE(queue.TryPut(1));
  int calls = 0;
  queue.NotifyWhenWritable([&] { ++calls; });
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(queue.TryGet().has_value());
  EXPECT_EQ(calls, 1);
  queue.NotifyWhenWritable([&] { ++calls; });
  EXPECT_EQ(calls, 2);
}

TEST(ChunkQueueTest, CloseRunsPendingNotifications) {
  ChunkQueue<int> empty;
  ChunkQueue<int> full({.max_size = 1});
  ASSERT_TRUE(full.TryPut(1));
  int readable = 0, writable = 0;
  empty.NotifyWhenReadable([&] { ++readable; });
  full.NotifyWhenWritable([&] { ++writable; });
  empty.Close();
  full.Close();
  EXPECT_EQ(readable, 1);
  EXPECT_EQ(writable, 1);
}

TEST(ChunkQueueTest, EmitterAndCallbacksRunWithoutTheLock) {
  // Calling back into the queue from the emitter or a callback would deadlock if a lock were held.
  ChunkQueue<int>* self = nullptr;
  size_t seen_size = 0;
  ChunkQueue<int> queue(
      {.max_size = 2,
       .drop_on_overflow = true,
       .emitter = [&](absl::string_view, const EventAttributes&) { seen_size = self->size(); }});
  self = &queue;
  queue.NotifyWhenReadable([&] { seen_size = queue.stats().queue_size; });
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(queue.TryPut(int{i}));
  EXPECT_EQ(seen_size, 2u);
  queue.Close();
}

TEST(ChunkQueueTest, ItemsMoveNotCopy) {
  ChunkQueue<std::unique_ptr<std::string>> queue;
  ASSERT_TRUE(queue.Put(std::make_unique<std::string>("audio")));
  auto item = queue.Get();
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(**item, "audio");
}

TEST(ChunkQueueTest, ManyProducersAndConsumersLoseNothing) {
  constexpr int kProducers = 4, kConsumers = 2, kPerProducer = 5000;
  ChunkQueue<std::pair<int, int>> queue({.max_size = 8});
  std::vector<std::vector<int>> received(kProducers);
  std::mutex received_mu;
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) ASSERT_TRUE(queue.Put({p, i}));
    });
  }
  std::atomic<int> consumers_done{0};
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      while (auto item = queue.Get()) {
        std::lock_guard<std::mutex> lock(received_mu);
        received[item->first].push_back(item->second);
      }
      ++consumers_done;
    });
  }
  for (int p = 0; p < kProducers; ++p) threads[p].join();
  queue.Close();
  for (size_t t = kProducers; t < threads.size(); ++t) threads[t].join();
  EXPECT_EQ(consumers_done.load(), kConsumers);
  for (int p = 0; p < kProducers; ++p) {
    ASSERT_EQ(received[p].size(), static_cast<size_t>(kPerProducer));
    // Two consumers may interleave, but every item arrives exactly once.
    std::sort(received[p].begin(), received[p].end());
    for (int i = 0; i < kPerProducer; ++i) ASSERT_EQ(received[p][i], i);
  }
  EXPECT_EQ(queue.stats().total_items, kProducers * kPerProducer);
  EXPECT_EQ(queue.stats().dropped_items, 0);
}

}  // namespace
}  // namespace voxflow::streaming
