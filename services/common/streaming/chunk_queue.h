// ChunkQueue<T>: a bounded, thread-safe queue between streaming stages (Stageflow's ChunkQueue),
// with backpressure, drop accounting and telemetry.
//
// - Full, drop_on_overflow: the oldest item is dropped (stream.chunk_dropped) and the new one
//   added. Full otherwise: Put waits for room; a wait over 1 ms is a blocked put
//   (stream.producer_blocked).
// - A BackpressureMonitor (80 % / 20 % hysteresis) is re-checked on every put and get, so a
//   drained queue ends its throttle window (stream.throttle_started / stream.throttle_ended).
// - Close() wakes everyone; Get drains what is left, then returns nothing (stream.queue_closed).
// - Callback-driven code (gRPC reactors, which must never block) uses TryPut/TryGet and asks to be
//   told when space or data is available: a reactor that stops reading lets HTTP/2 flow control
//   carry backpressure to the client.
// Items are moved, never copied. The emitter and callbacks run without the lock held.
#ifndef VOXFLOW_SERVICES_COMMON_STREAMING_CHUNK_QUEUE_H_
#define VOXFLOW_SERVICES_COMMON_STREAMING_CHUNK_QUEUE_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/streaming/backpressure_monitor.h"
#include "services/common/streaming/events.h"

namespace voxflow::streaming {

struct ChunkQueueOptions {
  size_t max_size = 100;
  bool drop_on_overflow = false;
  EventEmitter emitter;
  BackpressureMonitor::Options backpressure;
};

struct ChunkQueueStats {
  int64_t total_items = 0;    // Items accepted by Put/TryPut.
  int64_t dropped_items = 0;  // Oldest items dropped on overflow.
  int64_t blocked_puts = 0;   // Puts that waited over 1 ms for room.
  size_t max_queue_size = 0;  // Highest fill seen.
  double total_blocked_ms = 0;
  size_t queue_size = 0;
  bool throttled = false;
  int throttle_count = 0;
  double throttled_ms = 0;

  double drop_rate() const {
    return static_cast<double>(dropped_items) /
           static_cast<double>(std::max<int64_t>(total_items, 1));
  }
};

template <typename T>
class ChunkQueue {
 public:
  explicit ChunkQueue(ChunkQueueOptions options = {})
      : options_(std::move(options)), monitor_(options_.backpressure) {
    if (options_.max_size == 0) options_.max_size = 1;
  }

  ChunkQueue(const ChunkQueue&) = delete;
  ChunkQueue& operator=(const ChunkQueue&) = delete;

  // Adds `item`, waiting for room until `deadline` unless drop_on_overflow. Returns false, leaving
  // `item` untouched, if the queue is closed or the deadline passes first.
  bool Put(T&& item, absl::Time deadline = absl::InfiniteFuture()) {
    PendingEvents events;
    std::function<void()> notify;
    bool added = false;
    double blocked_ms = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (closed_) return false;
      if (!options_.drop_on_overflow && items_.size() >= options_.max_size) {
        const auto start = std::chrono::steady_clock::now();
        auto has_room = [this] { return closed_ || items_.size() < options_.max_size; };
        if (deadline == absl::InfiniteFuture()) {
          not_full_.wait(lock, has_room);
        } else {
          not_full_.wait_until(lock, absl::ToChronoTime(deadline), has_room);
        }
        const double waited_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
        blocked_ms = waited_ms > 1.0 ? waited_ms : 0;
      }
      if (!closed_ && (options_.drop_on_overflow || items_.size() < options_.max_size)) {
        AddLocked(std::move(item), events);
        if (on_readable_) notify = std::exchange(on_readable_, nullptr);
        added = true;
      }
      if (blocked_ms > 0) {
        // As Stageflow measures it: when the wait is over, the put done (if it was).
        ++stats_.blocked_puts;
        stats_.total_blocked_ms += blocked_ms;
        events.Add("stream.producer_blocked", {{"blocked_ms", absl::StrFormat("%.1f", blocked_ms)},
                                               {"queue_size", std::to_string(items_.size())}});
      }
    }
    events.EmitTo(options_.emitter);
    if (notify) notify();
    return added;
  }

  // Never blocks: adds `item` unless the queue is closed or full (without drop_on_overflow); on
  // false `item` is left untouched.
  bool TryPut(T&& item) {
    PendingEvents events;
    std::function<void()> notify;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_ || (!options_.drop_on_overflow && items_.size() >= options_.max_size)) {
        return false;
      }
      AddLocked(std::move(item), events);
      if (on_readable_) notify = std::exchange(on_readable_, nullptr);
    }
    events.EmitTo(options_.emitter);
    if (notify) notify();
    return true;
  }

  // Waits until an item is available (returns it), or the queue is closed and drained, or the
  // deadline passes (returns nothing).
  std::optional<T> Get(absl::Time deadline = absl::InfiniteFuture()) {
    std::unique_lock<std::mutex> lock(mu_);
    auto ready = [this] { return closed_ || !items_.empty(); };
    if (deadline == absl::InfiniteFuture()) {
      not_empty_.wait(lock, ready);
    } else {
      not_empty_.wait_until(lock, absl::ToChronoTime(deadline), ready);
    }
    return TakeAndUnlock(lock);
  }

  // Never blocks.
  std::optional<T> TryGet() {
    std::unique_lock<std::mutex> lock(mu_);
    return TakeAndUnlock(lock);
  }

  // Ends the queue: puts fail from now on, waiting producers and consumers wake up, pending
  // notifications run. Emits stream.queue_closed with the stats once.
  void Close() {
    std::function<void()> readable, writable;
    EventAttributes attributes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
      readable = std::exchange(on_readable_, nullptr);
      writable = std::exchange(on_writable_, nullptr);
      const ChunkQueueStats s = StatsLocked();
      attributes = {{"total_items", std::to_string(s.total_items)},
                    {"dropped_items", std::to_string(s.dropped_items)},
                    {"blocked_puts", std::to_string(s.blocked_puts)},
                    {"max_queue_size", std::to_string(s.max_queue_size)},
                    {"total_blocked_ms", absl::StrFormat("%.1f", s.total_blocked_ms)},
                    {"drop_rate", absl::StrFormat("%.4f", s.drop_rate())},
                    {"queue_size", std::to_string(s.queue_size)}};
    }
    not_full_.notify_all();
    not_empty_.notify_all();
    if (options_.emitter) options_.emitter("stream.queue_closed", attributes);
    if (readable) readable();
    if (writable) writable();
  }

  // Runs `callback` once, as soon as a TryPut would succeed or the queue is closed: at once, on
  // this thread, if that is already so; otherwise on the thread that makes room. Replaces a
  // callback still pending.
  void NotifyWhenWritable(std::function<void()> callback) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!closed_ && !options_.drop_on_overflow && items_.size() >= options_.max_size) {
        on_writable_ = std::move(callback);
        return;
      }
    }
    callback();
  }

  // Runs `callback` once, as soon as an item is available or the queue is closed (same rules).
  void NotifyWhenReadable(std::function<void()> callback) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!closed_ && items_.empty()) {
        on_readable_ = std::move(callback);
        return;
      }
    }
    callback();
  }

  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size();
  }
  size_t max_size() const { return options_.max_size; }
  ChunkQueueStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return StatsLocked();
  }

 private:
  void AddLocked(T&& item, PendingEvents& events) {
    if (items_.size() >= options_.max_size) {  // Only reached with drop_on_overflow.
      // The contract's order: drop the oldest, count it, emit (the size after the drop), add.
      items_.pop_front();
      ++stats_.dropped_items;
      events.Add("stream.chunk_dropped", {{"queue_size", std::to_string(items_.size())},
                                          {"max_size", std::to_string(options_.max_size)},
                                          {"reason", "overflow"}});
    }
    items_.push_back(std::move(item));
    ++stats_.total_items;
    stats_.max_queue_size = std::max(stats_.max_queue_size, items_.size());
    UpdateMonitorLocked(events);
    not_empty_.notify_one();
  }

  std::optional<T> TakeAndUnlock(std::unique_lock<std::mutex>& lock) {
    if (items_.empty()) return std::nullopt;
    std::optional<T> item(std::move(items_.front()));
    items_.pop_front();
    PendingEvents events;
    UpdateMonitorLocked(events);
    std::function<void()> notify;
    if (on_writable_) notify = std::exchange(on_writable_, nullptr);
    // Signalled under the lock: notifying after unlocking let this consumer re-take the lock
    // before the woken producer on 2 cores, a convoy that cost 6x with 4 producers (queue_bench).
    not_full_.notify_one();
    lock.unlock();
    events.EmitTo(options_.emitter);
    if (notify) notify();
    return item;
  }

  void UpdateMonitorLocked(PendingEvents& events) {
    if (monitor_.WouldChange(items_.size(), options_.max_size)) {
      monitor_.Update(items_.size(), options_.max_size, absl::Now(), &events);
    }
  }

  ChunkQueueStats StatsLocked() const {
    ChunkQueueStats s = stats_;
    s.queue_size = items_.size();
    s.throttled = monitor_.throttled();
    s.throttle_count = monitor_.throttle_count();
    s.throttled_ms = absl::ToDoubleMilliseconds(monitor_.throttled_time(absl::Now()));
    return s;
  }

  ChunkQueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
  bool closed_ = false;
  ChunkQueueStats stats_;
  BackpressureMonitor monitor_;
  std::function<void()> on_readable_;
  std::function<void()> on_writable_;
};

}  // namespace voxflow::streaming

#endif  // VOXFLOW_SERVICES_COMMON_STREAMING_CHUNK_QUEUE_H_
