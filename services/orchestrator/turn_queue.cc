#include "services/orchestrator/turn_queue.h"

#include <algorithm>
#include <utility>

namespace voxflow::orchestrator {

void TurnQueue::Push(std::shared_ptr<Turn> turn) { turns_.push_back({std::move(turn), nullptr}); }

Turn* TurnQueue::Find(int turn_id) {
  for (Queued& queued : turns_) {
    if (queued.turn->turn_id() == turn_id) return queued.turn.get();
  }
  return nullptr;
}

std::optional<TurnQueue::RunDue> TurnQueue::Attach(const std::shared_ptr<Turn>& turn,
                                                   std::shared_ptr<DagRun> run) {
  auto queued =
      std::find_if(turns_.begin(), turns_.end(), [&](const Queued& q) { return q.turn == turn; });
  if (queued == turns_.end()) return std::nullopt;
  queued->run = std::move(run);
  return RunDue{.release = turn->released, .cancel = turn->interrupted && !turn->dag_done};
}

std::shared_ptr<DagRun> TurnQueue::ReleaseFront() {
  if (turns_.empty()) return nullptr;
  Queued& front = turns_.front();
  if (front.turn->released) return nullptr;
  front.turn->released = true;
  return front.run;  // Null until it starts: Attach releases it then.
}

std::shared_ptr<DagRun> TurnQueue::FrontRunning() const {
  if (turns_.empty() || turns_.front().turn->dag_done) return nullptr;
  return turns_.front().run;
}

std::deque<TurnQueue::Queued> TurnQueue::TakeAll() {
  for (const Queued& queued : turns_) queued.turn->completed = true;
  return std::exchange(turns_, {});
}

}  // namespace voxflow::orchestrator
