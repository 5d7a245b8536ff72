// TurnQueue: a session's turns in order, each with its DAG run once started. The front turn owns
// the output and the memory; the turns behind it listen (their stt runs at once) or wait (the
// rest of their DAG is held until they reach the front). Nothing here calls out: a run to
// release or cancel is handed back, for the session to act on once its lock is released.
//
// Not thread-safe: the session's lock guards it.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TURN_QUEUE_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TURN_QUEUE_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>

#include "services/orchestrator/pipeline/dag_runner.h"
#include "services/orchestrator/turn.h"

namespace voxflow::orchestrator {

class TurnQueue {
 public:
  // A queued turn, and its run once started (the queue owns the run; the run owns the stage
  // factories, which hold the turn: no cycle).
  struct Queued {
    std::shared_ptr<Turn> turn;
    std::shared_ptr<DagRun> run;
  };
  // What a run that started must do at once.
  struct RunDue {
    bool release = false;  // Its turn reached the front meanwhile.
    bool cancel = false;   // Its turn was interrupted before its stages started.
  };

  bool empty() const { return turns_.empty(); }
  size_t size() const { return turns_.size(); }
  const std::shared_ptr<Turn>& front() const { return turns_.front().turn; }

  void Push(std::shared_ptr<Turn> turn);
  // Turn `turn_id`, if queued (null otherwise).
  Turn* Find(int turn_id);
  // `turn`'s run has started: the queue keeps it. None if the turn has left the queue (completed,
  // or the session closed): the run is dropped.
  std::optional<RunDue> Attach(const std::shared_ptr<Turn>& turn, std::shared_ptr<DagRun> run);
  // The front turn owns the output: the run to release now (null: not started yet, released
  // already, or no turn).
  std::shared_ptr<DagRun> ReleaseFront();
  // The front turn's run while its stages run (null otherwise): what a barge-in cancels.
  std::shared_ptr<DagRun> FrontRunning() const;
  void PopFront() { turns_.pop_front(); }
  // Every turn, marked completed: the session is over.
  std::deque<Queued> TakeAll();

 private:
  std::deque<Queued> turns_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TURN_QUEUE_H_
