// BufferedExporter: batches telemetry events for a sink (Stageflow semantics). Events are flushed
// in batches of `batch_size` when that many are waiting, every `flush_interval`, and on Close().
// When the buffer is full the oldest event is dropped and on_overflow(dropped_total, size) runs;
// on_overflow(-1, size) warns once when the fill crosses 80 %, re-armed once it falls below 40 %.
// The sink runs on the exporter's flush thread (or the caller of Flush/Close), one batch at a time
// and in order; callbacks run without the lock held.
#ifndef VOXFLOW_SERVICES_COMMON_STREAMING_BUFFERED_EXPORTER_H_
#define VOXFLOW_SERVICES_COMMON_STREAMING_BUFFERED_EXPORTER_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "services/common/streaming/events.h"

namespace voxflow::streaming {

struct BufferedExporterOptions {
  size_t batch_size = 100;
  absl::Duration flush_interval = absl::Seconds(10);
  size_t max_buffer_size = 10000;
  std::function<void(std::vector<TelemetryEvent> batch)> sink;
  std::function<void(int64_t dropped_total, size_t buffer_size)> on_overflow;
};

struct BufferedExporterStats {
  size_t buffer_size = 0;
  size_t max_buffer_size = 0;
  int64_t dropped_count = 0;
  int64_t exported_count = 0;  // Events handed to the sink.
  double fill_ratio = 0;
};

class BufferedExporter {
 public:
  explicit BufferedExporter(BufferedExporterOptions options);
  ~BufferedExporter();  // Close()s.
  BufferedExporter(const BufferedExporter&) = delete;
  BufferedExporter& operator=(const BufferedExporter&) = delete;

  // Buffers `event`. Returns false (and drops it) after Close().
  bool Export(TelemetryEvent event);

  // An EventEmitter that exports each event stamped with the current time.
  EventEmitter Emitter();

  // Hands everything buffered to the sink now, in batches.
  void Flush();

  // Flushes and stops the flush thread. Idempotent.
  void Close();

  BufferedExporterStats stats() const;

 private:
  void FlushLoop();
  // Hands batches to the sink in order: all of them, or only while a full batch is waiting.
  void FlushBatches(bool full_only);
  std::vector<TelemetryEvent> TakeBatchLocked();

  const BufferedExporterOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<TelemetryEvent> buffer_;
  int64_t dropped_ = 0;
  int64_t exported_ = 0;
  bool warned_ = false;  // The 80 % warning has fired and is not re-armed yet.
  bool closed_ = false;
  std::mutex sink_mu_;  // One batch at a time, in order.
  std::thread flusher_;
};

}  // namespace voxflow::streaming

#endif  // VOXFLOW_SERVICES_COMMON_STREAMING_BUFFERED_EXPORTER_H_
