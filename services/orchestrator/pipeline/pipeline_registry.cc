#include "services/orchestrator/pipeline/pipeline_registry.h"

#include "absl/strings/str_cat.h"

namespace voxflow::orchestrator {

absl::StatusOr<PipelineRegistry> PipelineRegistry::Create(
    const std::vector<v1::PipelineSpec>& specs, const std::set<std::string>& known_types) {
  PipelineRegistry registry;
  for (const v1::PipelineSpec& spec : specs) {
    absl::StatusOr<PipelineGraph> graph = PipelineGraph::Build(spec, known_types);
    if (!graph.ok()) return graph.status();
    if (registry.graphs_.count(spec.name()) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("pipeline name '", spec.name(), "' is used twice"));
    }
    if (registry.default_name_.empty()) registry.default_name_ = spec.name();
    registry.graphs_[spec.name()] = std::make_shared<const PipelineGraph>(*std::move(graph));
  }
  if (registry.graphs_.empty()) return absl::InvalidArgumentError("no pipelines");
  return registry;
}

std::shared_ptr<const PipelineGraph> PipelineRegistry::Find(absl::string_view name) const {
  auto it = graphs_.find(name.empty() ? absl::string_view(default_name_) : name);
  return it == graphs_.end() ? nullptr : it->second;
}

std::vector<std::string> PipelineRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, graph] : graphs_) names.push_back(name);
  return names;
}

}  // namespace voxflow::orchestrator
