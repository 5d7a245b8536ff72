// orchestrator_server: runs conversations (the stage DAG) over the STT and TTS services.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "services/common/server.h"
#include "services/orchestrator/orchestrator_service.h"
#include "services/orchestrator/pipeline/pipeline_spec_loader.h"

ABSL_FLAG(int, port, 50050, "Port to listen on; 0 picks a free one (printed at start-up).");
ABSL_FLAG(std::string, pipelines_dir, "",
          "Directory of *.textproto PipelineSpecs to serve besides the built-in voice_chat.");

int main(int argc, char** argv) {
  voxflow::BlockTerminationSignals();
  absl::SetProgramUsageMessage("Voxflow orchestrator: voice conversations over STT and TTS.");
  absl::ParseCommandLine(argc, argv);

  std::vector<std::string> pipelines = {voxflow::orchestrator::DefaultPipelineSpec().name()};
  if (const std::string dir = absl::GetFlag(FLAGS_pipelines_dir); !dir.empty()) {
    auto specs = voxflow::orchestrator::LoadPipelineSpecDir(dir);
    if (!specs.ok()) {
      std::fprintf(stderr, "orchestrator: --pipelines_dir: %s\n",
                   specs.status().ToString().c_str());
      return 2;
    }
    for (const auto& spec : *specs) pipelines.push_back(spec.name());
  }
  std::fprintf(stderr, "orchestrator: pipelines: %s\n", absl::StrJoin(pipelines, ", ").c_str());

  voxflow::orchestrator::OrchestratorService service;
  voxflow::ServerOptions options =
      voxflow::ServerOptionsFromFlags("orchestrator", absl::GetFlag(FLAGS_port));
  options.health_services = {"voxflow.v1.Orchestrator"};
  return voxflow::RunServerUntilSignal(options, {&service});
}
