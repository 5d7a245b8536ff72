// PipelineGraph: a PipelineSpec checked and indexed as a DAG, ready to run turns. Building rejects,
// naming the culprit: no stages, unnamed or duplicate stages, unknown dependencies or stage types,
// streams_from outside depends_on, bad timeouts or retry policies, and cycles (with their path).
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_PIPELINE_GRAPH_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_PIPELINE_GRAPH_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "voxflow/v1/pipeline.pb.h"

namespace voxflow::orchestrator {

struct StageNode {
  v1::StageSpec spec;
  std::vector<int> dependencies;  // Indexes of depends_on, in spec order.
  std::vector<bool> streamed;     // Per dependency: consumed as a stream (streams_from).
  std::vector<int> dependents;    // Stages that depend on this one.
};

class PipelineGraph {
 public:
  // `known_types` are the stage types this process can run.
  static absl::StatusOr<PipelineGraph> Build(const v1::PipelineSpec& spec,
                                             const std::set<std::string>& known_types);

  const std::string& name() const { return name_; }
  const std::vector<StageNode>& stages() const { return stages_; }
  // Stage indexes in a valid execution order (dependencies first, ties in spec order).
  const std::vector<int>& order() const { return order_; }
  std::vector<std::string> OrderedNames() const;
  // Index of stage `name`, or -1.
  int Find(absl::string_view name) const;

 private:
  std::string name_;
  std::vector<StageNode> stages_;
  std::vector<int> order_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_PIPELINE_GRAPH_H_
