// PipelineRegistry: the built pipelines a server serves, by name (the built-in default first).
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_PIPELINE_REGISTRY_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_PIPELINE_REGISTRY_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/orchestrator/pipeline/pipeline_graph.h"

namespace voxflow::orchestrator {

class PipelineRegistry {
 public:
  // Builds every spec; the first is the default. A spec that does not build, or a name used
  // twice, is an error naming it.
  static absl::StatusOr<PipelineRegistry> Create(const std::vector<v1::PipelineSpec>& specs,
                                                 const std::set<std::string>& known_types);

  // The pipeline called `name`, or the default for "". Null if there is none.
  std::shared_ptr<const PipelineGraph> Find(absl::string_view name) const;
  std::vector<std::string> Names() const;
  const std::string& default_name() const { return default_name_; }

 private:
  std::map<std::string, std::shared_ptr<const PipelineGraph>, std::less<>> graphs_;
  std::string default_name_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_PIPELINE_REGISTRY_H_
