// Utterance: one utterance of the caller's input on its way to the stt stage of its turn. The
// session appends frames as they are heard and ends it once; the stage reads them in order. What
// goes in comes out exactly once, so input is never shared between utterances or lost at their
// boundaries.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_UTTERANCE_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_UTTERANCE_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "services/common/cancellation.h"
#include "services/orchestrator/listening/input_item.h"

namespace voxflow::orchestrator {

class Utterance {
 public:
  explicit Utterance(int index) : index_(index) {}

  int index() const { return index_; }

  // When the reader hears of what was appended: now, on the appending thread, or `kLater`, when
  // the appender calls WakeReader (the session appends under its lock and wakes the reader, whose
  // stage writes to its backend, once it has released it).
  enum class Wake { kNow, kLater };

  // Session side. Append after End is ignored (the session never does it).
  void Append(InputItem item, Wake wake = Wake::kNow);
  // Ends the utterance: the reader gets an end_of_utterance item after the last frame.
  void End(absl::Time when, Wake wake = Wake::kNow);
  // Calls the watcher, if one watches and items wait.
  void WakeReader();
  bool ended() const;
  // Audio appended so far, in input bytes (for the sample-count invariant).
  size_t bytes() const;

  // Reader side: the next item, waiting for it; nullopt once `cancel` fires or after the end
  // marker was read.
  std::optional<InputItem> Next(const std::shared_ptr<CancellationToken>& cancel);

  // Event-driven reader side. `on_items` is called whenever items arrive or the utterance ends
  // (on the appending thread, without this utterance's lock; concurrent calls are possible), and
  // once at once if items wait. It replaces any earlier one; Unwatch drops it.
  void Watch(std::function<void()> on_items);
  void Unwatch();
  // The next item now; nullopt when none waits or the end marker was taken.
  std::optional<InputItem> TryNext();

 private:
  const int index_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<InputItem> items_;
  bool ended_ = false;
  bool end_read_ = false;
  size_t bytes_ = 0;
  std::function<void()> on_items_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_UTTERANCE_H_
