#include "services/orchestrator/pipeline/stream_writer.h"

#include <utility>

namespace voxflow::orchestrator {

std::shared_ptr<StreamWriter> StreamWriter::Create(std::vector<std::shared_ptr<TextStream>> edges) {
  return std::shared_ptr<StreamWriter>(new StreamWriter(std::move(edges)));
}

StreamWriter::StreamWriter(std::vector<std::shared_ptr<TextStream>> edges)
    : edges_(std::move(edges)), waiting_(edges_.size()), pumping_(edges_.size(), false) {}

void StreamWriter::Write(std::string item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < edges_.size(); ++i) {
      waiting_[i].push_back(i + 1 == edges_.size() ? std::move(item) : item);
    }
  }
  for (size_t i = 0; i < edges_.size(); ++i) Pump(i);
}

void StreamWriter::Pump(size_t i) {
  std::function<void()> flushed;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (pumping_[i]) return;  // The running Pump takes this item too.
    pumping_[i] = true;
    while (!waiting_[i].empty()) {
      std::string item = std::move(waiting_[i].front());
      waiting_[i].pop_front();
      lock.unlock();
      const bool taken = edges_[i]->TryPut(std::move(item));
      lock.lock();
      if (taken) continue;
      if (edges_[i]->closed()) {
        waiting_[i].clear();
        break;
      }
      // Full: back in front, and again when the consumer makes room. TryPut left it untouched.
      waiting_[i].push_front(std::move(item));
      pumping_[i] = false;
      lock.unlock();
      std::weak_ptr<StreamWriter> weak = weak_from_this();
      edges_[i]->NotifyWhenWritable([weak, i] {
        if (auto self = weak.lock()) self->Pump(i);
      });
      return;
    }
    pumping_[i] = false;
    if (flushed_ && EmptyLocked()) flushed = std::exchange(flushed_, nullptr);
  }
  if (flushed) flushed();
}

void StreamWriter::WhenFlushed(std::function<void()> flushed) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!EmptyLocked()) {
      flushed_ = std::move(flushed);
      return;
    }
  }
  flushed();
}

void StreamWriter::Abandon() {
  std::function<void()> flushed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& waiting : waiting_) waiting.clear();
    flushed = std::exchange(flushed_, nullptr);
  }
  if (flushed) flushed();
}

bool StreamWriter::EmptyLocked() const {
  for (const auto& waiting : waiting_) {
    if (!waiting.empty()) return false;
  }
  return true;
}

}  // namespace voxflow::orchestrator
