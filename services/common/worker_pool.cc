#include "services/common/worker_pool.h"

#include <utility>

namespace voxflow {

WorkerPool::WorkerPool(int threads) {
  running_threads_ = std::max(threads, 1);
  for (int i = 0; i < std::max(threads, 1); ++i) {
    threads_.emplace_back([this] {
      while (true) {
        std::function<void()> task;
        {
          std::unique_lock<std::mutex> lock(mu_);
          ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
          if (tasks_.empty()) {  // Stopping, and nothing left.
            --running_threads_;
            return;
          }
          task = std::move(tasks_.front());
          tasks_.pop_front();
        }
        task();
      }
    });
  }
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  ready_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void WorkerPool::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_threads_ > 0) {
      tasks_.push_back(std::move(task));
      ready_.notify_one();
      return;
    }
  }
  task();
}

void Strand::Post(std::function<void()> task) {
  bool start = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
    start = !running_;
    running_ = true;
  }
  if (start) pool_->Submit([self = shared_from_this()] { self->Drain(); });
}

namespace {
thread_local bool running_inline = false;
}  // namespace

void Strand::RunOrPost(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_) {
      tasks_.push_back(std::move(task));
      return;
    }
    running_ = true;
  }
  const bool outer = running_inline;
  running_inline = true;
  task();
  running_inline = outer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (tasks_.empty()) {
      running_ = false;
      return;
    }
  }
  // Posted meanwhile: they run on the pool, after this one.
  pool_->Submit([self = shared_from_this()] { self->Drain(); });
}

bool Strand::RunningInline() { return running_inline; }

size_t Strand::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size() + (running_ ? 1 : 0);
}

void Strand::Drain() {
  // Runs a bounded batch, then yields the worker so that one busy stream cannot starve others.
  for (int i = 0; i < 16; ++i) {
    std::function<void()> task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (tasks_.empty()) {
        running_ = false;
        return;
      }
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
  pool_->Submit([self = shared_from_this()] { self->Drain(); });
}

}  // namespace voxflow
