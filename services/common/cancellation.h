// Cancellation: a token that blocking work (a stage attempt, a backend call) watches, so a
// timeout, a barge-in or a client that went away stops it promptly. Tokens form a tree: a child is
// cancelled with its parent (a stage attempt under its turn).
#ifndef VOXFLOW_SERVICES_COMMON_CANCELLATION_H_
#define VOXFLOW_SERVICES_COMMON_CANCELLATION_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace voxflow {

class CancellationToken : public std::enable_shared_from_this<CancellationToken> {
 public:
  static std::shared_ptr<CancellationToken> Create() {
    return std::shared_ptr<CancellationToken>(new CancellationToken());
  }
  // A token cancelled with `parent` (with the parent's reason) or on its own.
  static std::shared_ptr<CancellationToken> CreateChild(
      const std::shared_ptr<CancellationToken>& parent) {
    auto child = Create();
    std::weak_ptr<CancellationToken> weak = child;
    child->parent_ = parent;
    child->parent_callback_ = parent->OnCancel([weak](const absl::Status& reason) {
      if (auto token = weak.lock()) token->Cancel(reason);
    });
    return child;
  }

  ~CancellationToken() {
    if (auto parent = parent_.lock()) parent->RemoveCallback(parent_callback_);
  }

  // First call wins; callbacks run on this thread, one at a time, without the lock held.
  void Cancel(absl::Status reason) {
    std::unique_lock<std::mutex> lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    reason_ = reason.ok() ? absl::CancelledError("cancelled") : std::move(reason);
    cv_.notify_all();
    while (!callbacks_.empty()) {
      auto it = callbacks_.begin();
      running_callback_ = it->first;
      running_thread_ = std::this_thread::get_id();
      Callback callback = std::move(it->second);
      callbacks_.erase(it);
      lock.unlock();
      callback(reason_);
      lock.lock();
      running_callback_ = -1;
      running_thread_ = std::thread::id();
      cv_.notify_all();
    }
  }

  bool cancelled() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }
  // OK while not cancelled.
  absl::Status reason() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_ ? reason_ : absl::OkStatus();
  }

  // Waits until cancelled (true) or `deadline` passes (false).
  bool WaitUntil(absl::Time deadline) const {
    std::unique_lock<std::mutex> lock(mu_);
    if (deadline == absl::InfiniteFuture()) {
      cv_.wait(lock, [this] { return cancelled_; });
    } else {
      cv_.wait_until(lock, absl::ToChronoTime(deadline), [this] { return cancelled_; });
    }
    return cancelled_;
  }
  bool WaitFor(absl::Duration timeout) const { return WaitUntil(absl::Now() + timeout); }

  using Callback = std::function<void(const absl::Status& reason)>;
  // Runs `callback` once on cancellation (at once, on this thread, if already cancelled). Returns
  // an id for RemoveCallback. Const: watching a token does not change whether it is cancelled.
  int64_t OnCancel(Callback callback) const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!cancelled_) {
        callbacks_.emplace(next_id_, std::move(callback));
        return next_id_++;
      }
    }
    callback(reason());
    return -1;
  }
  // After it returns the callback is not running and will not run (so it may refer to objects
  // about to be destroyed). Not from inside the callback itself.
  void RemoveCallback(int64_t id) const {
    if (id < 0) return;
    std::unique_lock<std::mutex> lock(mu_);
    callbacks_.erase(id);
    if (running_thread_ == std::this_thread::get_id()) return;
    cv_.wait(lock, [&] { return running_callback_ != id; });
  }

 private:
  CancellationToken() = default;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool cancelled_ = false;
  absl::Status reason_;
  mutable std::map<int64_t, Callback> callbacks_;
  mutable int64_t next_id_ = 0;
  int64_t running_callback_ = -1;
  std::thread::id running_thread_;
  std::weak_ptr<CancellationToken> parent_;
  int64_t parent_callback_ = -1;
};

// Removes a cancellation callback when it goes out of scope.
class ScopedCancelCallback {
 public:
  ScopedCancelCallback(std::shared_ptr<CancellationToken> token, CancellationToken::Callback cb)
      : token_(std::move(token)), id_(token_->OnCancel(std::move(cb))) {}
  ~ScopedCancelCallback() { token_->RemoveCallback(id_); }
  ScopedCancelCallback(const ScopedCancelCallback&) = delete;
  ScopedCancelCallback& operator=(const ScopedCancelCallback&) = delete;

 private:
  std::shared_ptr<CancellationToken> token_;
  int64_t id_;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_CANCELLATION_H_
