// Stages: the units of work of a pipeline turn, and what a stage sees while it runs (Stageflow's
// stage contract). A stage returns an outcome:
//   OK      done, with outputs for its dependents;
//   SKIP    nothing to do (counts as done; `conditional` dependents skip too);
//   FAIL    the turn fails fast, unless the stage's failure policy says continue or degrade;
//   CANCEL  stop the turn here, keeping the partial results;
//   RETRY   a retryable error: run again under the stage's retry policy.
// A stage must return promptly once its cancellation token fires (timeout, failed or cancelled
// turn): every blocking wait in a stage watches it.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_STAGE_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_STAGE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/cancellation.h"
#include "services/common/streaming/chunk_queue.h"
#include "voxflow/v1/pipeline.pb.h"

namespace voxflow::orchestrator {

enum class StageOutcome { kOk, kSkip, kFail, kCancel, kRetry };

absl::string_view StageOutcomeName(StageOutcome outcome);

using StageOutputs = std::map<std::string, std::string>;

struct StageResult {
  StageOutcome outcome = StageOutcome::kOk;
  StageOutputs outputs;
  absl::Status error;  // Why, for SKIP, FAIL, CANCEL and RETRY.
  // RETRY: wait at least this long before the next attempt (a server's Retry-After).
  absl::Duration min_backoff = absl::ZeroDuration();

  static StageResult Ok(StageOutputs outputs = {}) {
    return {StageOutcome::kOk, std::move(outputs)};
  }
  static StageResult Skip(absl::string_view reason) {
    return {StageOutcome::kSkip, {}, absl::CancelledError(reason)};
  }
  static StageResult Fail(absl::Status error) {
    return {StageOutcome::kFail, {}, std::move(error)};
  }
  static StageResult Retry(absl::Status error, absl::Duration min_backoff = absl::ZeroDuration()) {
    return {StageOutcome::kRetry, {}, std::move(error), min_backoff};
  }
  static StageResult Cancel(absl::string_view reason, StageOutputs partial = {}) {
    return {StageOutcome::kCancel, std::move(partial), absl::CancelledError(reason)};
  }
};

// A finished dependency as its dependents see it. Under DEGRADE a failed stage shows as OK with
// its declared fallback outputs and `degraded` set; under CONTINUE it shows as FAIL.
struct DependencyResult {
  StageOutcome outcome = StageOutcome::kOk;
  StageOutputs outputs;
  absl::Status error;
  bool degraded = false;
};

// A streaming edge: items (sentences) flow from a producer to a consumer while both run.
using TextStream = streaming::ChunkQueue<std::string>;

class StageContext {
 public:
  StageContext(const v1::StageSpec* spec, std::shared_ptr<CancellationToken> cancellation,
               absl::Time deadline, int attempt,
               std::map<std::string, DependencyResult> dependencies,
               std::map<std::string, std::shared_ptr<TextStream>> streams_in,
               std::vector<std::shared_ptr<TextStream>> streams_out)
      : spec_(spec),
        cancellation_(std::move(cancellation)),
        deadline_(deadline),
        attempt_(attempt),
        dependencies_(std::move(dependencies)),
        streams_in_(std::move(streams_in)),
        streams_out_(std::move(streams_out)) {}

  const v1::StageSpec& spec() const { return *spec_; }
  // The parameter `key` of the stage spec, or `fallback`.
  std::string Parameter(absl::string_view key, absl::string_view fallback = "") const;
  int attempt() const { return attempt_; }  // 1-based.
  const std::shared_ptr<CancellationToken>& cancellation() const { return cancellation_; }
  bool cancelled() const { return cancellation_->cancelled(); }
  absl::Time deadline() const { return deadline_; }

  // A finished dependency, or null (not a dependency, or one consumed as a stream).
  const DependencyResult* dependency(absl::string_view name) const;
  // Output `key` of dependency `name` ("" when absent).
  std::string Input(absl::string_view name, absl::string_view key) const;

  // The stream from dependency `name` in streams_from, or null. It closes when the producer ends.
  TextStream* StreamFrom(absl::string_view name) const;
  // Sends `item` to every stage streaming from this one, waiting for room. False once cancelled
  // or when no consumer is left.
  bool StreamOut(std::string item);
  bool has_stream_consumers() const { return !streams_out_.empty(); }
  // The edges to the stages streaming from this one (for a StreamWriter).
  const std::vector<std::shared_ptr<TextStream>>& streams_out() const { return streams_out_; }

 private:
  const v1::StageSpec* spec_;
  std::shared_ptr<CancellationToken> cancellation_;
  absl::Time deadline_;
  int attempt_;
  std::map<std::string, DependencyResult> dependencies_;
  std::map<std::string, std::shared_ptr<TextStream>> streams_in_;
  std::vector<std::shared_ptr<TextStream>> streams_out_;
};

class Stage {
 public:
  virtual ~Stage() = default;
  // One attempt; a retry calls Run again on the same object, so a stage may keep state. A stage
  // that blocks here gets a thread of its own per attempt (see AsyncStage).
  virtual StageResult Run(StageContext& context) = 0;
};

// A stage driven by events (its input arriving, its backend answering, timers, a cancel) that
// holds no thread while it waits: the runner starts it on a shared executor and it reports its
// result through `done`.
class AsyncStage : public Stage {
 public:
  using Done = std::function<void(StageResult)>;
  // Starts one attempt; must not block. `done` is called exactly once, from any thread (possibly
  // before Start returns), after the attempt has stopped using `context`.
  virtual void Start(std::shared_ptr<StageContext> context, Done done) = 0;
  // The blocking form, for tests and tools: Start, then wait for `done`.
  StageResult Run(StageContext& context) final;
};

// Makes the stage for a spec, once per turn. Keyed by StageSpec.type.
using StageFactory = std::function<std::unique_ptr<Stage>(const v1::StageSpec& spec)>;
using StageFactories = std::map<std::string, StageFactory>;

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_STAGE_H_
