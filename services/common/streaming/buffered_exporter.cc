#include "services/common/streaming/buffered_exporter.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/time/clock.h"

namespace voxflow::streaming {
namespace {

constexpr double kWarnFill = 0.8;
constexpr double kRearmFill = 0.4;

}  // namespace

BufferedExporter::BufferedExporter(BufferedExporterOptions options)
    : options_([&] {
        if (options.batch_size == 0) options.batch_size = 1;
        if (options.max_buffer_size == 0) options.max_buffer_size = 1;
        return std::move(options);
      }()),
      flusher_([this] { FlushLoop(); }) {}

BufferedExporter::~BufferedExporter() { Close(); }

bool BufferedExporter::Export(TelemetryEvent event) {
  std::vector<std::pair<int64_t, size_t>> overflow_calls;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    if (buffer_.size() >= options_.max_buffer_size) {
      // Drop the oldest, count it, report (the size after the drop), then add: Stageflow's order.
      buffer_.pop_front();
      ++dropped_;
      overflow_calls.emplace_back(dropped_, buffer_.size());
    }
    buffer_.push_back(std::move(event));
    const double fill = static_cast<double>(buffer_.size()) / options_.max_buffer_size;
    if (!warned_ && fill >= kWarnFill) {
      warned_ = true;
      overflow_calls.emplace_back(-1, buffer_.size());
    }
    wake = buffer_.size() >= options_.batch_size;
  }
  if (wake) wake_.notify_one();
  if (options_.on_overflow) {
    for (const auto& [dropped, size] : overflow_calls) options_.on_overflow(dropped, size);
  }
  return true;
}

EventEmitter BufferedExporter::Emitter() {
  return [this](absl::string_view name, const EventAttributes& attributes) {
    Export(TelemetryEvent{std::string(name), attributes, absl::Now()});
  };
}

std::vector<TelemetryEvent> BufferedExporter::TakeBatchLocked() {
  const size_t n = std::min(options_.batch_size, buffer_.size());
  std::vector<TelemetryEvent> batch;
  batch.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    batch.push_back(std::move(buffer_.front()));
    buffer_.pop_front();
  }
  if (warned_ && static_cast<double>(buffer_.size()) / options_.max_buffer_size < kRearmFill) {
    warned_ = false;
  }
  exported_ += static_cast<int64_t>(batch.size());
  return batch;
}

void BufferedExporter::Flush() { FlushBatches(/*full_only=*/false); }

void BufferedExporter::FlushBatches(bool full_only) {
  std::lock_guard<std::mutex> sink_lock(sink_mu_);
  while (true) {
    std::vector<TelemetryEvent> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (full_only && buffer_.size() < options_.batch_size) return;
      batch = TakeBatchLocked();
    }
    if (batch.empty()) return;
    if (options_.sink) options_.sink(std::move(batch));
  }
}

void BufferedExporter::FlushLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!closed_) {
    wake_.wait_for(lock, absl::ToChronoNanoseconds(options_.flush_interval),
                   [this] { return closed_ || buffer_.size() >= options_.batch_size; });
    if (closed_) break;
    // Woken by a full batch: send full batches. By the timer: send everything.
    const bool full_only = buffer_.size() >= options_.batch_size;
    lock.unlock();
    FlushBatches(full_only);
    lock.lock();
  }
}

void BufferedExporter::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  wake_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  Flush();
}

BufferedExporterStats BufferedExporter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  BufferedExporterStats s;
  s.buffer_size = buffer_.size();
  s.max_buffer_size = options_.max_buffer_size;
  s.dropped_count = dropped_;
  s.exported_count = exported_;
  s.fill_ratio = static_cast<double>(buffer_.size()) / options_.max_buffer_size;
  return s;
}

}  // namespace voxflow::streaming
