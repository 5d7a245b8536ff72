// DagRun: one turn of a pipeline. Every stage whose dependencies are done starts at once, in
// parallel with the others: an AsyncStage on the shared executor, holding no thread while it
// waits; a blocking stage on a thread of its own; a stage that streams
// from a dependency starts as soon as that dependency has started. Outcomes follow Stageflow (see
// stage.h); every transition is reported as a StageEvent. Per-attempt timeouts and retry backoff
// run on a TimerQueue, so no thread sleeps for them.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_DAG_RUNNER_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_DAG_RUNNER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/cancellation.h"
#include "services/common/logging.h"
#include "services/common/timer_queue.h"
#include "services/common/worker_pool.h"
#include "services/orchestrator/pipeline/pipeline_graph.h"
#include "services/orchestrator/pipeline/stage.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

struct StageRecord {
  std::string name;
  bool ran = false;  // False: never started (the turn failed or was cancelled first).
  StageOutcome outcome = StageOutcome::kCancel;
  StageOutputs outputs;
  absl::Status error;
  int attempts = 0;
  bool degraded = false;  // Failed under DEGRADE: dependents got the fallback output.
  bool timed_out = false;
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfinitePast();
  absl::Duration duration() const { return ran ? end - start : absl::ZeroDuration(); }
};

enum class TurnStatus { kOk, kFailed, kCancelled };

struct TurnResult {
  TurnStatus status = TurnStatus::kOk;
  absl::Status error;                     // Why the turn failed or was cancelled.
  std::string failed_stage;               // The stage whose failure failed the turn.
  std::vector<StageRecord> stages;        // In spec order.
  std::vector<std::string> degradations;  // "<stage>_timeout" / "<stage>_failed" per DEGRADE.
  const StageRecord* Find(absl::string_view name) const;
};

// A pool sized to the cores, shared by every run of the process.
WorkerPool& DefaultStageExecutor();

struct DagRunOptions {
  // Called for every stage transition, from the thread that caused it, without locks held.
  std::function<void(v1::StageEvent)> on_event;
  // Called once when the last stage has ended.
  std::function<void(const TurnResult&)> on_done;
  TimerQueue* timers = &TimerQueue::Default();
  // Where event-driven stages (AsyncStage) start; they hold none of its threads while waiting.
  // Null: DefaultStageExecutor().
  WorkerPool* executor = nullptr;
  uint32_t seed = 1;            // Retry jitter.
  size_t stream_capacity = 64;  // Items per streaming edge.
  absl::Duration default_timeout = absl::Seconds(30);
  // The run is cancelled with this token (e.g. the session's).
  std::shared_ptr<CancellationToken> parent;
  // Set on every stage thread, so that its log lines name the session and turn.
  LogContext log_context;
  // Held: only stages of these types start; every other stage waits for Release(). (A turn
  // listens with its stt while the turn before it still plays its reply.) Empty: nothing held.
  std::set<std::string> run_before_release;
};

// Backoff before retry `retry` (1 = the first retry): initial * multiplier^(retry-1), capped at
// max_backoff, times a uniform factor in [1 - jitter, 1 + jitter].
absl::Duration RetryBackoff(const v1::RetryPolicy& policy, int retry, std::mt19937& rng);

class DagRun : public std::enable_shared_from_this<DagRun> {
 public:
  static std::shared_ptr<DagRun> Start(std::shared_ptr<const PipelineGraph> graph,
                                       const StageFactories& factories, DagRunOptions options);
  ~DagRun();

  // CANCEL: running stages are cancelled, nothing new starts, partial results are kept.
  void Cancel(absl::Status reason);
  // Cancels the running stages whose type is in `types` (barge-in stops llm and tts). A cancelled
  // stage ends as CANCEL and the turn as cancelled.
  void CancelStagesOfType(const std::set<std::string>& types, absl::Status reason);

  // Lets the held stages start (see DagRunOptions::run_before_release). Idempotent.
  void Release();

  bool done() const;
  // Waits for the end of the turn (tests, synchronous callers).
  TurnResult Wait();

 private:
  enum class State { kPending, kRunning, kDone };
  struct StageState {
    State state = State::kPending;
    std::unique_ptr<Stage> stage;
    std::shared_ptr<CancellationToken> attempt_token;
    int64_t timeout_timer = 0;
    bool timed_out = false;
    int64_t backoff_timer = 0;
    std::vector<std::shared_ptr<TextStream>> streams_out;
    std::map<std::string, std::shared_ptr<TextStream>> streams_in;
  };

  DagRun(std::shared_ptr<const PipelineGraph> graph, const StageFactories& factories,
         DagRunOptions options);

  void StartReadyLocked(std::vector<v1::StageEvent>& events);
  void StartAttemptLocked(int index, std::vector<v1::StageEvent>& events);
  void RunAttempt(int index, StageContext context);
  // An attempt ended (from its thread, or from an AsyncStage's done).
  void EndAttempt(int index, StageResult result);
  void FinishStageLocked(int index, StageResult result, std::vector<v1::StageEvent>& events);
  void FailTurnLocked(int index, const absl::Status& error);
  v1::StageEvent MakeEvent(int index, v1::StageEvent::Status status, absl::string_view verb,
                           const absl::Status& error = absl::OkStatus()) const;
  void Emit(std::vector<v1::StageEvent>& events);
  // Ends a critical section that made `events`: releases `lock`, delivers the events in order,
  // then reports the end of the turn if this section completed it.
  void Publish(std::unique_lock<std::mutex>& lock, std::vector<v1::StageEvent>& events);
  void CompleteIfDoneLocked();

  const std::shared_ptr<const PipelineGraph> graph_;
  const StageFactories factories_;
  DagRunOptions options_;
  const std::shared_ptr<CancellationToken> turn_token_;

  mutable std::mutex mu_;
  std::vector<StageState> states_;
  TurnResult result_;
  bool stopping_ = false;                  // Failed or cancelled: nothing new starts.
  bool held_ = false;                      // Until Release(): see run_before_release.
  std::set<std::string> cancelled_types_;  // CancelStagesOfType: these never start again.
  absl::Status cancelled_types_reason_;
  bool completed_ = false;
  std::function<void()> done_callback_;  // Set at completion; run by Publish.
  std::mutex emit_mu_;                   // Orders event delivery; taken while holding mu_.
  std::mt19937 rng_;
  int64_t parent_callback_ = -1;
  bool done_ = false;  // on_done has returned.
  std::condition_variable done_cv_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_DAG_RUNNER_H_
