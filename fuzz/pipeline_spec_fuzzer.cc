// The PipelineSpec textproto loader and the registry's checks on arbitrary text: pipeline files
// are operator input, but a bad one must be an error naming it, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "services/orchestrator/pipeline/pipeline_registry.h"
#include "services/orchestrator/pipeline/pipeline_spec_loader.h"
#include "services/orchestrator/stages/conversation_stages.h"
#include "spdlog/spdlog.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace voxflow::orchestrator;  // NOLINT: a fuzz target.
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<voxflow::v1::PipelineSpec> spec = ParsePipelineSpec(text, "fuzz.textproto");
  if (!spec.ok()) return 0;
  (void)PipelineRegistry::Create({*spec}, BuiltInStageTypes());
  return 0;
}
