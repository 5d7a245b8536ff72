// Loading PipelineSpecs from text-format files (.textproto) and the built-in default.
// Structural checks of the DAG (cycles, unknown dependencies, ...) belong to the pipeline builder;
// this layer only turns text into messages and says precisely where the text is wrong.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_PIPELINE_SPEC_LOADER_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_PIPELINE_SPEC_LOADER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "voxflow/v1/pipeline.pb.h"

namespace voxflow::orchestrator {

// Parses a text-format PipelineSpec. Errors are INVALID_ARGUMENT naming `source:line:column`.
absl::StatusOr<v1::PipelineSpec> ParsePipelineSpec(absl::string_view text,
                                                   absl::string_view source);

// Reads and parses one .textproto file (NOT_FOUND if it cannot be read).
absl::StatusOr<v1::PipelineSpec> LoadPipelineSpecFile(const std::string& path);

// Loads every *.textproto in `dir`, sorted by file name. Two specs with one name are an error.
absl::StatusOr<std::vector<v1::PipelineSpec>> LoadPipelineSpecDir(const std::string& dir);

// The built-in default pipeline (services/orchestrator/pipelines/voice_chat.textproto).
const v1::PipelineSpec& DefaultPipelineSpec();

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_PIPELINE_PIPELINE_SPEC_LOADER_H_
