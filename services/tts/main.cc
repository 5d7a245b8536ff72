// tts_server: the text-to-speech service.
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "services/common/server.h"
#include "services/tts/tts_service.h"

ABSL_FLAG(int, port, 50052, "Port to listen on; 0 picks a free one (printed at start-up).");

int main(int argc, char** argv) {
  voxflow::BlockTerminationSignals();
  absl::SetProgramUsageMessage("Voxflow text-to-speech service.");
  absl::ParseCommandLine(argc, argv);

  voxflow::tts::TtsService service;
  voxflow::ServerOptions options =
      voxflow::ServerOptionsFromFlags("tts", absl::GetFlag(FLAGS_port));
  options.health_services = {"voxflow.v1.TextToSpeech"};
  return voxflow::RunServerUntilSignal(options, {&service});
}
