// StreamWriter: an event-driven stage's side of its streaming edges. Write never waits: what a
// full edge cannot take now waits here, in order, and goes from the consumer's thread as soon as
// it makes room (ChunkQueue::NotifyWhenWritable). Replaces StageContext::StreamOut, which holds
// its thread while an edge is full.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_STREAM_WRITER_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_STREAM_WRITER_H_

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "services/orchestrator/pipeline/stage.h"

namespace voxflow::orchestrator {

class StreamWriter : public std::enable_shared_from_this<StreamWriter> {
 public:
  static std::shared_ptr<StreamWriter> Create(std::vector<std::shared_ptr<TextStream>> edges);

  // Sends `item` to every edge (each in order), without waiting.
  void Write(std::string item);
  // Calls `flushed` once (at once if nothing waits) when every item written has been taken by
  // its edge, or dropped because the edge closed or Abandon was called.
  void WhenFlushed(std::function<void()> flushed);
  // Drops what waits (the stage was cancelled: nobody reads on).
  void Abandon();

 private:
  explicit StreamWriter(std::vector<std::shared_ptr<TextStream>> edges);
  // Moves what waits for edge `i` into it while it has room.
  void Pump(size_t i);
  bool EmptyLocked() const;

  const std::vector<std::shared_ptr<TextStream>> edges_;
  std::mutex mu_;
  std::vector<std::deque<std::string>> waiting_;  // Per edge.
  std::vector<bool> pumping_;                     // Per edge: a Pump runs (no reentry).
  std::function<void()> flushed_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_STREAM_WRITER_H_
