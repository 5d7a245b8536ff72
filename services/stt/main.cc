// stt_server: the speech-to-text service.
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "services/common/server.h"
#include "services/stt/stt_service.h"

ABSL_FLAG(int, port, 50051, "Port to listen on; 0 picks a free one (printed at start-up).");

int main(int argc, char** argv) {
  voxflow::BlockTerminationSignals();
  absl::SetProgramUsageMessage("Voxflow speech-to-text service.");
  absl::ParseCommandLine(argc, argv);

  voxflow::stt::SttService service;
  voxflow::ServerOptions options =
      voxflow::ServerOptionsFromFlags("stt", absl::GetFlag(FLAGS_port));
  options.health_services = {"voxflow.v1.SpeechToText"};
  return voxflow::RunServerUntilSignal(options, {&service});
}
