#include "services/orchestrator/listening/utterance.h"

namespace voxflow::orchestrator {

void Utterance::Append(InputItem item, Wake wake) {
  std::function<void()> on_items;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    bytes_ += item.audio.data().size();
    // With no reader watching, the item waits for the stt stage's start on another thread.
    if (!on_items_) ++item.hand_overs;
    items_.push_back(std::move(item));
    if (wake == Wake::kNow) on_items = on_items_;
  }
  changed_.notify_all();
  if (on_items) on_items();
}

void Utterance::End(absl::Time when, Wake wake) {
  std::function<void()> on_items;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    ended_ = true;
    InputItem end;
    end.end_of_utterance = true;
    end.received = when;
    items_.push_back(std::move(end));
    if (wake == Wake::kNow) on_items = on_items_;
  }
  changed_.notify_all();
  if (on_items) on_items();
}

void Utterance::WakeReader() {
  std::function<void()> on_items;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (items_.empty()) return;
    on_items = on_items_;
  }
  if (on_items) on_items();
}

void Utterance::Watch(std::function<void()> on_items) {
  bool waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    on_items_ = on_items;
    waiting = !items_.empty();
  }
  if (waiting && on_items) on_items();
}

void Utterance::Unwatch() {
  std::lock_guard<std::mutex> lock(mu_);
  on_items_ = nullptr;
}

std::optional<InputItem> Utterance::TryNext() {
  std::lock_guard<std::mutex> lock(mu_);
  if (items_.empty()) return std::nullopt;
  InputItem item = std::move(items_.front());
  items_.pop_front();
  if (item.end_of_utterance) end_read_ = true;
  return item;
}

bool Utterance::ended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ended_;
}

size_t Utterance::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

std::optional<InputItem> Utterance::Next(const std::shared_ptr<CancellationToken>& cancel) {
  // The cancellation wakes the wait; taking the mutex first orders it after the check below.
  ScopedCancelCallback wake(cancel, [this](const absl::Status&) {
    { std::lock_guard<std::mutex> lock(mu_); }
    changed_.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return !items_.empty() || end_read_ || cancel->cancelled(); });
  if (items_.empty() || cancel->cancelled()) return std::nullopt;
  InputItem item = std::move(items_.front());
  items_.pop_front();
  if (item.end_of_utterance) end_read_ = true;
  return item;
}

}  // namespace voxflow::orchestrator
