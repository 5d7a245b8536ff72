#include "services/orchestrator/pipeline/dag_runner.h"

#include <algorithm>
#include <cmath>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace voxflow::orchestrator {
namespace {

absl::Duration StageTimeout(const v1::StageSpec& spec, absl::Duration fallback) {
  return spec.timeout_ms() > 0 ? absl::Milliseconds(spec.timeout_ms()) : fallback;
}

}  // namespace

const StageRecord* TurnResult::Find(absl::string_view name) const {
  for (const StageRecord& record : stages) {
    if (record.name == name) return &record;
  }
  return nullptr;
}

namespace {

// A copy that shares nothing with `status`. absl::Status reps are reference-counted inside Debian's
// uninstrumented Abseil, so TSan cannot see a copy handed to another thread being released; a
// fresh rep per thread keeps the reports meaningful.
absl::Status Detached(const absl::Status& status) {
  return status.ok() ? absl::OkStatus()
                     : absl::Status(status.code(), std::string(status.message()));
}

TurnResult Detached(const TurnResult& result) {
  TurnResult copy = result;
  copy.error = Detached(result.error);
  for (StageRecord& stage : copy.stages) stage.error = Detached(stage.error);
  return copy;
}

}  // namespace

absl::Duration RetryBackoff(const v1::RetryPolicy& policy, int retry, std::mt19937& rng) {
  const double multiplier = policy.multiplier() > 0 ? policy.multiplier() : 2.0;
  double ms = policy.initial_backoff_ms() * std::pow(multiplier, std::max(retry - 1, 0));
  if (policy.max_backoff_ms() > 0) ms = std::min(ms, static_cast<double>(policy.max_backoff_ms()));
  if (policy.jitter() > 0) {
    std::uniform_real_distribution<double> factor(1.0 - policy.jitter(), 1.0 + policy.jitter());
    ms *= factor(rng);
  }
  return absl::Milliseconds(std::max(ms, 0.0));
}

std::shared_ptr<DagRun> DagRun::Start(std::shared_ptr<const PipelineGraph> graph,
                                      const StageFactories& factories, DagRunOptions options) {
  std::shared_ptr<DagRun> run(new DagRun(std::move(graph), factories, std::move(options)));
  if (run->options_.parent != nullptr) {
    std::weak_ptr<DagRun> weak = run;
    run->parent_callback_ = run->options_.parent->OnCancel([weak](const absl::Status& reason) {
      if (auto self = weak.lock()) self->Cancel(reason);
    });
  }
  std::vector<v1::StageEvent> events;
  std::unique_lock<std::mutex> lock(run->mu_);
  run->StartReadyLocked(events);
  run->CompleteIfDoneLocked();
  run->Publish(lock, events);
  return run;
}

DagRun::DagRun(std::shared_ptr<const PipelineGraph> graph, const StageFactories& factories,
               DagRunOptions options)
    : graph_(std::move(graph)),
      factories_(factories),
      options_(std::move(options)),
      turn_token_(CancellationToken::Create()),
      held_(!options_.run_before_release.empty()),
      rng_(options_.seed) {
  if (options_.executor == nullptr) options_.executor = &DefaultStageExecutor();
  const auto& stages = graph_->stages();
  states_.resize(stages.size());
  for (size_t i = 0; i < stages.size(); ++i) {
    StageRecord record;
    record.name = stages[i].spec.name();
    result_.stages.push_back(std::move(record));
    for (size_t d = 0; d < stages[i].dependencies.size(); ++d) {
      if (!stages[i].streamed[d]) continue;
      const int producer = stages[i].dependencies[d];
      auto edge = std::make_shared<TextStream>(
          streaming::ChunkQueueOptions{.max_size = options_.stream_capacity});
      states_[producer].streams_out.push_back(edge);
      states_[i].streams_in[stages[producer].spec.name()] = edge;
    }
  }
}

DagRun::~DagRun() = default;

void DagRun::StartReadyLocked(std::vector<v1::StageEvent>& events) {
  const auto& stages = graph_->stages();
  bool changed = true;
  while (changed && !stopping_) {
    changed = false;
    for (int i : graph_->order()) {
      if (states_[i].state != State::kPending) continue;
      const StageNode& node = stages[i];
      bool ready = true;
      std::string skipped_dependency;
      for (size_t d = 0; d < node.dependencies.size(); ++d) {
        const StageState& dep = states_[node.dependencies[d]];
        if (node.streamed[d] ? dep.state == State::kPending : dep.state != State::kDone) {
          ready = false;
          break;
        }
        if (dep.state == State::kDone &&
            result_.stages[node.dependencies[d]].outcome == StageOutcome::kSkip) {
          skipped_dependency = stages[node.dependencies[d]].spec.name();
        }
      }
      if (!ready) continue;
      if (held_ && options_.run_before_release.count(node.spec.type()) == 0) continue;
      changed = true;
      if (cancelled_types_.count(node.spec.type()) > 0) {
        FinishStageLocked(i, StageResult::Cancel(cancelled_types_reason_.message()), events);
      } else if (node.spec.conditional() && !skipped_dependency.empty()) {
        states_[i].state = State::kRunning;  // Finished at once, below.
        result_.stages[i].ran = true;
        result_.stages[i].start = absl::Now();
        FinishStageLocked(
            i, StageResult::Skip(absl::StrCat("dependency '", skipped_dependency, "' was skipped")),
            events);
      } else {
        StartAttemptLocked(i, events);
      }
    }
  }
}

void DagRun::StartAttemptLocked(int index, std::vector<v1::StageEvent>& events) {
  const StageNode& node = graph_->stages()[index];
  StageState& state = states_[index];
  StageRecord& record = result_.stages[index];
  state.state = State::kRunning;
  state.backoff_timer = 0;
  if (!record.ran) {
    record.ran = true;
    record.start = absl::Now();
  }
  ++record.attempts;
  if (state.stage == nullptr) {
    auto factory = factories_.find(node.spec.type());
    if (factory != factories_.end()) state.stage = factory->second(node.spec);
    if (state.stage == nullptr) {
      FinishStageLocked(index,
                        StageResult::Fail(absl::InternalError(absl::StrCat(
                            "no implementation for stage type '", node.spec.type(), "'"))),
                        events);
      return;
    }
  }

  // What the stage sees of its finished dependencies.
  std::map<std::string, DependencyResult> dependencies;
  for (size_t d = 0; d < node.dependencies.size(); ++d) {
    if (node.streamed[d]) continue;
    const int dep = node.dependencies[d];
    const StageRecord& done = result_.stages[dep];
    DependencyResult view{done.outcome, done.outputs, done.error, done.degraded};
    if (done.degraded) {
      const auto& fallback = graph_->stages()[dep].spec.fallback_output();
      view = DependencyResult{StageOutcome::kOk, StageOutputs(fallback.begin(), fallback.end()),
                              done.error, true};
    }
    dependencies.emplace(done.name, std::move(view));
  }

  auto token = CancellationToken::CreateChild(turn_token_);
  state.attempt_token = token;
  state.timed_out = false;
  const absl::Duration timeout = StageTimeout(node.spec, options_.default_timeout);
  const absl::Time deadline = absl::Now() + timeout;
  std::weak_ptr<DagRun> weak = weak_from_this();
  state.timeout_timer = options_.timers->Schedule(deadline, [weak, index, token, timeout] {
    auto self = weak.lock();
    if (self == nullptr) return;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      if (self->states_[index].attempt_token != token) return;
      self->states_[index].timed_out = true;
    }
    token->Cancel(absl::DeadlineExceededError(
        absl::StrCat("stage '", self->result_.stages[index].name, "' timed out after ",
                     absl::ToInt64Milliseconds(timeout), " ms")));
  });

  events.push_back(MakeEvent(index, v1::StageEvent::STARTED, "started"));
  StageContext context(&node.spec, token, deadline, record.attempts, std::move(dependencies),
                       state.streams_in, state.streams_out);
  if (auto* async = dynamic_cast<AsyncStage*>(state.stage.get()); async != nullptr) {
    // Event-driven: started on the shared executor (never under this run's lock, since it may
    // finish at once), and holding no thread afterwards.
    auto shared = std::make_shared<StageContext>(std::move(context));
    options_.executor->Submit([self = shared_from_this(), index, async, shared] {
      ScopedLogContext log_context(self->options_.log_context);
      // `done` may come on any thread, in any of its callbacks (a gRPC reaction run inside a
      // call that holds locks): the end of the attempt goes back to the executor.
      async->Start(shared, [self, index](StageResult result) {
        self->options_.executor->Submit([self, index, result = std::move(result)]() mutable {
          ScopedLogContext log_context(self->options_.log_context);
          self->EndAttempt(index, std::move(result));
        });
      });
    });
    return;
  }
  try {
    std::thread([self = shared_from_this(), index, context = std::move(context)]() mutable {
      self->RunAttempt(index, std::move(context));
    }).detach();
  } catch (const std::system_error& error) {
    options_.timers->Cancel(state.timeout_timer);
    FinishStageLocked(index,
                      StageResult::Fail(absl::ResourceExhaustedError(
                          absl::StrCat("cannot start a thread for the stage: ", error.what()))),
                      events);
  }
}

void DagRun::RunAttempt(int index, StageContext context) {
  ScopedLogContext log_context(options_.log_context);
  Stage* stage;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stage = states_[index].stage.get();
  }
  EndAttempt(index, stage->Run(context));
}

void DagRun::EndAttempt(int index, StageResult result) {
  int64_t timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    timer = states_[index].timeout_timer;
  }
  options_.timers->Cancel(timer);  // Outside the lock: the timer callback takes it.

  std::vector<v1::StageEvent> events;
  std::unique_lock<std::mutex> lock(mu_);
  FinishStageLocked(index, std::move(result), events);
  StartReadyLocked(events);
  CompleteIfDoneLocked();
  Publish(lock, events);
}

void DagRun::FinishStageLocked(int index, StageResult result, std::vector<v1::StageEvent>& events) {
  const v1::StageSpec& spec = graph_->stages()[index].spec;
  StageState& state = states_[index];
  StageRecord& record = result_.stages[index];
  const std::shared_ptr<CancellationToken> token = std::move(state.attempt_token);
  state.attempt_token = nullptr;

  if (state.timed_out) {
    result = StageResult::Fail(token->reason());
  } else if (token != nullptr && token->cancelled() && result.outcome != StageOutcome::kOk &&
             result.outcome != StageOutcome::kSkip) {
    // Stopped from outside (failed or cancelled turn, barge-in): a cancellation, whatever the
    // stage made of it.
    result.outcome = StageOutcome::kCancel;
    result.error = token->reason();
  } else if (result.outcome == StageOutcome::kCancel && !stopping_) {
    // The stage itself cancelled the turn: stop here, keep the partial results.
    stopping_ = true;
    result_.status = TurnStatus::kCancelled;
    result_.error = result.error;
    turn_token_->Cancel(result.error);
  }

  if (result.outcome == StageOutcome::kRetry) {
    const int max_attempts = std::max(spec.retry().max_attempts(), 1);
    if (record.attempts < max_attempts && !stopping_ && cancelled_types_.count(spec.type()) == 0) {
      const absl::Duration backoff =
          std::max(RetryBackoff(spec.retry(), record.attempts, rng_), result.min_backoff);
      v1::StageEvent event = MakeEvent(index, v1::StageEvent::RETRY, "retried", result.error);
      event.set_duration_ms(absl::ToInt64Milliseconds(backoff));  // The wait before the retry.
      events.push_back(std::move(event));
      std::weak_ptr<DagRun> weak = weak_from_this();
      state.backoff_timer = options_.timers->Schedule(absl::Now() + backoff, [weak, index] {
        auto self = weak.lock();
        if (self == nullptr) return;
        std::vector<v1::StageEvent> events;
        std::unique_lock<std::mutex> lock(self->mu_);
        if (self->states_[index].backoff_timer == 0) return;  // Cancelled meanwhile.
        if (self->stopping_) {
          self->FinishStageLocked(index, StageResult::Cancel("turn ended during retry backoff"),
                                  events);
        } else {
          self->StartAttemptLocked(index, events);
        }
        self->CompleteIfDoneLocked();
        self->Publish(lock, events);
      });
      return;  // Still running: dependents wait.
    }
    result.outcome = StageOutcome::kFail;
    result.error = absl::Status(result.error.code(),
                                absl::StrCat(result.error.message(), " (after ", record.attempts,
                                             record.attempts == 1 ? " attempt)" : " attempts)"));
  }

  state.state = State::kDone;
  state.backoff_timer = 0;
  record.outcome = result.outcome;
  record.outputs = std::move(result.outputs);
  record.error = result.error;
  record.timed_out = state.timed_out;
  record.end = absl::Now();
  for (auto& edge : state.streams_out) edge->Close();
  for (auto& [name, edge] : state.streams_in) edge->Close();

  switch (result.outcome) {
    case StageOutcome::kOk:
      events.push_back(MakeEvent(index, v1::StageEvent::OK, "completed"));
      break;
    case StageOutcome::kSkip:
      events.push_back(MakeEvent(index, v1::StageEvent::SKIP, "skipped", result.error));
      break;
    case StageOutcome::kCancel:
      events.push_back(MakeEvent(index, v1::StageEvent::CANCEL, "cancelled", result.error));
      break;
    case StageOutcome::kFail:
    case StageOutcome::kRetry:
      events.push_back(MakeEvent(index, v1::StageEvent::FAIL, "failed", result.error));
      switch (spec.failure_policy()) {
        case v1::CONTINUE:
          break;
        case v1::DEGRADE:
          record.degraded = true;
          result_.degradations.push_back(
              absl::StrCat(spec.name(), state.timed_out ? "_timeout" : "_failed"));
          break;
        default:
          FailTurnLocked(index, result.error);
      }
      break;
  }
}

void DagRun::FailTurnLocked(int index, const absl::Status& error) {
  if (stopping_) return;
  stopping_ = true;
  result_.status = TurnStatus::kFailed;
  result_.failed_stage = result_.stages[index].name;
  result_.error = absl::Status(
      error.code(), absl::StrCat("stage '", result_.failed_stage, "' failed: ", error.message()));
  turn_token_->Cancel(result_.error);
}

void DagRun::Cancel(absl::Status reason) {
  std::vector<std::pair<int, int64_t>> backoffs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (completed_) return;
    if (!stopping_) {
      stopping_ = true;
      result_.status = TurnStatus::kCancelled;
      result_.error = reason;
    }
    for (size_t i = 0; i < states_.size(); ++i) {
      if (states_[i].backoff_timer != 0) {
        backoffs.emplace_back(static_cast<int>(i), states_[i].backoff_timer);
      }
    }
  }
  turn_token_->Cancel(reason);
  for (const auto& [index, timer] : backoffs) {
    if (!options_.timers->Cancel(timer)) continue;  // Already fired: it sees stopping_.
    std::vector<v1::StageEvent> events;
    std::unique_lock<std::mutex> lock(mu_);
    FinishStageLocked(index, StageResult::Cancel(reason.message()), events);
    CompleteIfDoneLocked();
    Publish(lock, events);
  }
  std::vector<v1::StageEvent> events;
  std::unique_lock<std::mutex> lock(mu_);
  CompleteIfDoneLocked();
  Publish(lock, events);
}

void DagRun::CancelStagesOfType(const std::set<std::string>& types, absl::Status reason) {
  std::vector<std::shared_ptr<CancellationToken>> tokens;
  std::vector<std::pair<int, int64_t>> backoffs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (completed_) return;
    cancelled_types_.insert(types.begin(), types.end());
    cancelled_types_reason_ = reason;
    if (result_.status == TurnStatus::kOk) {
      result_.status = TurnStatus::kCancelled;
      result_.error = reason;
    }
    for (size_t i = 0; i < states_.size(); ++i) {
      if (types.count(graph_->stages()[i].spec.type()) == 0) continue;
      if (states_[i].attempt_token != nullptr) tokens.push_back(states_[i].attempt_token);
      if (states_[i].backoff_timer != 0) {
        backoffs.emplace_back(static_cast<int>(i), states_[i].backoff_timer);
      }
    }
  }
  for (auto& token : tokens) token->Cancel(reason);
  for (const auto& [index, timer] : backoffs) {
    if (!options_.timers->Cancel(timer)) continue;
    std::vector<v1::StageEvent> events;
    std::unique_lock<std::mutex> lock(mu_);
    FinishStageLocked(index, StageResult::Cancel(reason.message()), events);
    StartReadyLocked(events);
    CompleteIfDoneLocked();
    Publish(lock, events);
  }
}

void DagRun::Release() {
  std::vector<v1::StageEvent> events;
  std::unique_lock<std::mutex> lock(mu_);
  if (!held_) return;
  held_ = false;
  StartReadyLocked(events);
  CompleteIfDoneLocked();
  Publish(lock, events);
}

void DagRun::CompleteIfDoneLocked() {
  if (completed_) return;
  for (const StageState& state : states_) {
    if (state.state == State::kRunning) return;
  }
  if (!stopping_) {
    for (const StageState& state : states_) {
      if (state.state == State::kPending) return;  // Held, or waiting for a dependency.
    }
  }
  for (size_t i = 0; i < states_.size(); ++i) {
    if (states_[i].state != State::kPending) continue;
    states_[i].state = State::kDone;
    result_.stages[i].outcome = StageOutcome::kCancel;
    result_.stages[i].error = absl::CancelledError("not started: the turn ended first");
    for (auto& edge : states_[i].streams_out) edge->Close();
    for (auto& [name, edge] : states_[i].streams_in) edge->Close();
  }
  completed_ = true;
  done_callback_ = [self = shared_from_this(), result = Detached(result_)] {
    if (self->options_.parent != nullptr) {
      self->options_.parent->RemoveCallback(self->parent_callback_);
    }
    if (self->options_.on_done) self->options_.on_done(result);
    std::lock_guard<std::mutex> lock(self->mu_);
    self->done_ = true;
    self->done_cv_.notify_all();
  };
}

TurnResult DagRun::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [this] { return done_; });
  return Detached(result_);
}

bool DagRun::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

v1::StageEvent DagRun::MakeEvent(int index, v1::StageEvent::Status status, absl::string_view verb,
                                 const absl::Status& error) const {
  const v1::StageSpec& spec = graph_->stages()[index].spec;
  const StageRecord& record = result_.stages[index];
  v1::StageEvent event;
  event.set_stage(spec.name());
  event.set_kind(v1::StageKind_Name(spec.kind()));
  event.set_status(status);
  event.set_attempt(std::max(record.attempts, 1));
  event.set_name(absl::StrCat("stage.", spec.name(), ".", verb));
  if (record.ran && status != v1::StageEvent::STARTED && status != v1::StageEvent::RETRY) {
    event.set_duration_ms(absl::ToInt64Milliseconds(absl::Now() - record.start));
  }
  if (!error.ok()) event.set_error(std::string(error.message()));
  return event;
}

void DagRun::Publish(std::unique_lock<std::mutex>& lock, std::vector<v1::StageEvent>& events) {
  std::function<void()> done = std::exchange(done_callback_, nullptr);
  {
    // Taken before mu_ is released: batches leave in the order their critical sections ran, so
    // a client never sees stage.x.completed before stage.x.started.
    std::lock_guard<std::mutex> emitting(emit_mu_);
    lock.unlock();
    Emit(events);
  }
  if (done) done();  // After every event of the turn: completion is the last critical section.
}

void DagRun::Emit(std::vector<v1::StageEvent>& events) {
  if (options_.on_event) {
    for (v1::StageEvent& event : events) options_.on_event(std::move(event));
  }
  events.clear();
}

WorkerPool& DefaultStageExecutor() {
  static WorkerPool* const pool =
      new WorkerPool(static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  return *pool;
}

}  // namespace voxflow::orchestrator
