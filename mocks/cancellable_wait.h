// Waiting in mocks (latency, slowness, hanging) that a stream's cancellation cuts short.
#ifndef VOXFLOW_MOCKS_CANCELLABLE_WAIT_H_
#define VOXFLOW_MOCKS_CANCELLABLE_WAIT_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace voxflow::mocks {

// Waits `ms`, checking `cancelled` (may be null) every 5 ms. Returns false if it was cancelled.
inline bool CancellableWait(int ms, const std::atomic<bool>* cancelled) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (cancelled != nullptr && cancelled->load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 5)));
  }
  return cancelled == nullptr || !cancelled->load();
}

}  // namespace voxflow::mocks

#endif  // VOXFLOW_MOCKS_CANCELLABLE_WAIT_H_
