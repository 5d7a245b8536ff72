#include "services/orchestrator/pipeline/pipeline_graph.h"

#include <algorithm>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace voxflow::orchestrator {
namespace {

absl::Status CheckRetryPolicy(const v1::StageSpec& stage) {
  const v1::RetryPolicy& retry = stage.retry();
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("stage '", stage.name(), "': retry.", what));
  };
  if (retry.max_attempts() < 0) return bad("max_attempts must not be negative");
  if (retry.initial_backoff_ms() < 0) return bad("initial_backoff_ms must not be negative");
  if (retry.max_backoff_ms() < 0) return bad("max_backoff_ms must not be negative");
  if (retry.multiplier() < 0) return bad("multiplier must not be negative");
  if (retry.jitter() < 0 || retry.jitter() > 1) return bad("jitter must be in [0, 1]");
  return absl::OkStatus();
}

// Depth-first search for a cycle; returns its path ("a -> b -> a") or "".
std::string FindCycle(const std::vector<StageNode>& stages) {
  enum Color { kWhite, kGrey, kBlack };
  std::vector<Color> color(stages.size(), kWhite);
  std::vector<int> path;
  std::string cycle;
  std::function<bool(int)> visit = [&](int node) {
    color[node] = kGrey;
    path.push_back(node);
    for (int dep : stages[node].dependencies) {
      if (color[dep] == kGrey) {
        // The cycle is the path from `dep` to here, closed by the edge back to `dep`. Edges point
        // from a stage to what it depends on; print them in execution order (dep first).
        auto start = std::find(path.begin(), path.end(), dep);
        std::vector<std::string> names;
        for (auto it = path.end(); it != start;) names.push_back(stages[*--it].spec.name());
        names.push_back(stages[node].spec.name());
        cycle = absl::StrJoin(names, " -> ");
        return true;
      }
      if (color[dep] == kWhite && visit(dep)) return true;
    }
    path.pop_back();
    color[node] = kBlack;
    return false;
  };
  for (size_t i = 0; i < stages.size(); ++i) {
    if (color[i] == kWhite && visit(static_cast<int>(i))) return cycle;
  }
  return "";
}

}  // namespace

absl::StatusOr<PipelineGraph> PipelineGraph::Build(const v1::PipelineSpec& spec,
                                                   const std::set<std::string>& known_types) {
  PipelineGraph graph;
  graph.name_ = spec.name();
  const std::string where = absl::StrCat("pipeline '", spec.name(), "'");
  if (spec.stages().empty())
    return absl::InvalidArgumentError(absl::StrCat(where, " has no stages"));

  std::map<std::string, int> index;
  for (const v1::StageSpec& stage : spec.stages()) {
    if (stage.name().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": stage ", index.size() + 1, " has no name"));
    }
    if (!index.emplace(stage.name(), static_cast<int>(index.size())).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": duplicate stage name '", stage.name(), "'"));
    }
    if (known_types.count(stage.type()) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": stage '", stage.name(), "' has unknown type '", stage.type(),
                       "' (known: ", absl::StrJoin(known_types, ", "), ")"));
    }
    if (stage.timeout_ms() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": stage '", stage.name(), "' has a negative timeout_ms"));
    }
    if (absl::Status status = CheckRetryPolicy(stage); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", status.message()));
    }
    graph.stages_.push_back(StageNode{stage, {}, {}, {}});
  }

  for (StageNode& node : graph.stages_) {
    const v1::StageSpec& stage = node.spec;
    std::set<std::string> seen;
    for (const std::string& dep : stage.depends_on()) {
      auto it = index.find(dep);
      if (it == index.end()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": stage '", stage.name(),
                                                       "' depends on unknown stage '", dep, "'"));
      }
      if (!seen.insert(dep).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": stage '", stage.name(), "' lists dependency '", dep, "' twice"));
      }
      node.dependencies.push_back(it->second);
      const bool streamed = std::find(stage.streams_from().begin(), stage.streams_from().end(),
                                      dep) != stage.streams_from().end();
      node.streamed.push_back(streamed);
    }
    for (const std::string& producer : stage.streams_from()) {
      if (seen.count(producer) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": stage '", stage.name(),
                                                       "' streams_from '", producer,
                                                       "', which is not in its depends_on"));
      }
    }
  }
  for (size_t i = 0; i < graph.stages_.size(); ++i) {
    for (int dep : graph.stages_[i].dependencies) {
      graph.stages_[dep].dependents.push_back(static_cast<int>(i));
    }
  }
  if (std::string cycle = FindCycle(graph.stages_); !cycle.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": dependency cycle ", cycle));
  }

  // Kahn's algorithm, taking the earliest ready stage in spec order each time.
  std::vector<int> waiting(graph.stages_.size());
  for (size_t i = 0; i < graph.stages_.size(); ++i) {
    waiting[i] = static_cast<int>(graph.stages_[i].dependencies.size());
  }
  std::set<int> ready;
  for (size_t i = 0; i < waiting.size(); ++i) {
    if (waiting[i] == 0) ready.insert(static_cast<int>(i));
  }
  while (!ready.empty()) {
    const int next = *ready.begin();
    ready.erase(ready.begin());
    graph.order_.push_back(next);
    for (int dependent : graph.stages_[next].dependents) {
      if (--waiting[dependent] == 0) ready.insert(dependent);
    }
  }
  return graph;
}

std::vector<std::string> PipelineGraph::OrderedNames() const {
  std::vector<std::string> names;
  for (int i : order_) names.push_back(stages_[i].spec.name());
  return names;
}

int PipelineGraph::Find(absl::string_view name) const {
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (stages_[i].spec.name() == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace voxflow::orchestrator
