// voxctl: the command-line client for Voxflow's services. See kUsage.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/common/security.h"
#include "services/common/version.h"
#include "tools/voxctl/commands.h"
#include "tools/voxctl/health_check.h"

ABSL_FLAG(std::string, target, "",
          "Server address HOST:PORT (health: comma-separated list). Default: the command's "
          "service on 127.0.0.1 (orchestrator 50050, stt 50051, tts 50052).");
ABSL_FLAG(std::string, in, "", "converse: the question, any WAV (or other file libsndfile reads).");
ABSL_FLAG(std::string, out, "", "converse, synthesize: where to write the reply / speech WAV.");
ABSL_FLAG(bool, realtime, false, "converse: send audio at real time, as a microphone would.");
ABSL_FLAG(bool, hands_free, false,
          "converse: a caller who just talks: real time, then the microphone stays open (silence) "
          "with no END_OF_INPUT until the reply's turn completes.");
ABSL_FLAG(bool, json, false, "converse: print every event as a JSON line.");
ABSL_FLAG(std::string, voice, "", "converse, synthesize: TTS voice (see `voxctl voices`).");
ABSL_FLAG(std::string, language, "", "BCP-47 language (default en-US).");
ABSL_FLAG(int, sample_rate, 0, "Audio rate (default: converse 16000, synthesize 22050).");
ABSL_FLAG(std::string, pipeline, "", "converse: pipeline name (default: the server's default).");
ABSL_FLAG(bool, telemetry, false, "converse: ask for telemetry events (with --json).");
ABSL_FLAG(std::string, service, "", "health: service to check (empty: the whole server).");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA to verify the server with: connect over TLS.");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate (mutual TLS, with --tls_key).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding the bearer token to send (default: $VOXFLOW_AUTH_TOKEN; needs --tls_ca).");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(5), "How long to wait for a connection.");
ABSL_FLAG(absl::Duration, timeout, absl::Minutes(5), "Deadline of each call.");

namespace {

constexpr char kUsage[] =
    "voxctl COMMAND [ARGS] [flags]\n\n"
    "Commands:\n"
    "  converse --in QUESTION.wav [--out REPLY.wav] [--realtime | --hands_free] [--json]\n"
    "                              one conversation with the orchestrator\n"
    "  transcribe FILE.wav         speech to text with the STT service\n"
    "  synthesize \"TEXT\" --out FILE.wav [--voice V]\n"
    "                              text to speech with the TTS service\n"
    "  voices [--language L]       the TTS service's voices\n"
    "  health                      grpc.health.v1 status of the services\n\n"
    "  help [COMMAND]              this text, or a command's\n\n"
    "Common flags: --target=HOST:PORT --connect_timeout=5s --timeout=5m (see --helpfull)\n"
    "Exit codes: 0 success, 1 the call failed, 2 a usage mistake.\n";

// `voxctl help COMMAND`.
struct CommandHelp {
  const char* name;
  const char* text;
};
constexpr CommandHelp kCommandHelp[] = {
    {"converse",
     "voxctl converse --in QUESTION.wav [--out REPLY.wav] [--realtime | --hands_free] [--json]\n"
     "                [--telemetry] [--pipeline P] [--voice V] [--language L] [--sample_rate R]\n\n"
     "One conversation with the orchestrator (--target, default 127.0.0.1:50050): sends the\n"
     "question (any file libsndfile reads, converted to --sample_rate, default 16000), prints the\n"
     "transcripts, the reply and its latency breakdown, and writes the reply audio to --out.\n"
     "--realtime sends at real time; --hands_free also keeps the microphone open (silence) with\n"
     "no END_OF_INPUT, as a caller who just talks, and prints the voice-to-voice it measured.\n"},
    {"transcribe",
     "voxctl transcribe FILE.wav [--language L]\n\n"
     "Speech to text with the STT service (--target, default 127.0.0.1:50051).\n"},
    {"synthesize",
     "voxctl synthesize \"TEXT\" --out FILE.wav [--voice V] [--language L] [--sample_rate R]\n\n"
     "Text to speech with the TTS service (--target, default 127.0.0.1:50052).\n"},
    {"voices",
     "voxctl voices [--language L]\n\n"
     "The TTS service's voices (--target, default 127.0.0.1:50052); exits 1 if none matches.\n"},
    {"health",
     "voxctl health [--target HOST:PORT,...] [--service NAME]\n\n"
     "grpc.health.v1 status of each target (default: the three services on their default\n"
     "ports); exits 1 unless every one is SERVING.\n"},
};

constexpr char kOrchestrator[] = "127.0.0.1:50050";
constexpr char kStt[] = "127.0.0.1:50051";
constexpr char kTts[] = "127.0.0.1:50052";

// The channel credentials the flags ask for; exits 2 on a bad combination or file.
std::shared_ptr<grpc::ChannelCredentials> Credentials() {
  static std::shared_ptr<grpc::ChannelCredentials>* credentials = [] {
    voxflow::ClientSecurity security;
    security.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
    security.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
    security.tls_key_file = absl::GetFlag(FLAGS_tls_key);
    security.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
    if (const char* env = std::getenv("VOXFLOW_AUTH_TOKEN");
        security.auth_token_file.empty() && env != nullptr) {
      security.auth_token = env;
    }
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> made =
        voxflow::MakeChannelCredentials(security);
    if (!made.ok()) {
      std::fprintf(stderr, "voxctl: %s\n", std::string(made.status().message()).c_str());
      std::exit(2);
    }
    return new std::shared_ptr<grpc::ChannelCredentials>(*made);
  }();
  return *credentials;
}

voxflow::voxctl::Endpoint EndpointOr(const char* default_target) {
  voxflow::voxctl::Endpoint endpoint;
  endpoint.credentials = Credentials();
  endpoint.target = absl::GetFlag(FLAGS_target);
  if (endpoint.target.empty()) endpoint.target = default_target;
  endpoint.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  endpoint.timeout = absl::GetFlag(FLAGS_timeout);
  return endpoint;
}

int SampleRateOr(int default_rate) {
  const int rate = absl::GetFlag(FLAGS_sample_rate);
  return rate == 0 ? default_rate : rate;
}

int Health() {
  std::string targets = absl::GetFlag(FLAGS_target);
  if (targets.empty()) targets = absl::StrJoin({kOrchestrator, kStt, kTts}, ",");
  int failures = 0;
  for (const std::string& target :
       std::vector<std::string>(absl::StrSplit(targets, ',', absl::SkipEmpty()))) {
    absl::StatusOr<std::string> status = voxflow::voxctl::CheckHealth(
        target, absl::GetFlag(FLAGS_service), absl::GetFlag(FLAGS_connect_timeout), Credentials());
    if (!status.ok()) {
      std::fprintf(stderr, "voxctl health: %s\n", std::string(status.status().message()).c_str());
      ++failures;
      continue;
    }
    std::printf("%-24s %s\n", target.c_str(), status->c_str());
    if (*status != "SERVING") ++failures;
  }
  return failures == 0 ? 0 : 1;
}

// Runs `command` and turns its status into voxctl's exit code.
int Report(const std::string& command, const absl::Status& status) {
  std::cout << std::flush;
  if (status.ok()) return 0;
  std::fprintf(stderr, "voxctl %s: %s\n", command.c_str(), std::string(status.message()).c_str());
  return 1;
}

int Usage(const std::string& problem) {
  std::fprintf(stderr, "voxctl: %s\n\n%s", problem.c_str(), kUsage);
  return 2;
}

// `help`, `help COMMAND`, --help and -h: the usage on stdout, exit 0 (Abseil's own --help would
// print every flag of every library and exit 1).
std::optional<int> MaybeHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-help" || arg == "-h" || arg == "--helpshort") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  if (argc < 2 || std::string(argv[1]) != "help") return std::nullopt;
  if (argc == 2) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc > 3) return Usage("help takes at most one argument, a command");
  for (const CommandHelp& help : kCommandHelp) {
    if (argv[2] == std::string(help.name)) {
      std::fputs(help.text, stdout);
      return 0;
    }
  }
  return Usage(absl::StrCat("help: unknown command '", argv[2], "'"));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage_config;
  usage_config.version_string = [] {
    return absl::StrCat("voxctl ", voxflow::kVersion, " (API ", voxflow::kApiVersion, ")\n");
  };
  absl::SetFlagsUsageConfig(usage_config);
  if (std::optional<int> help = MaybeHelp(argc, argv)) return *help;
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return Usage("no command given");
  const std::string command = args[1];
  const std::vector<std::string> operands(args.begin() + 2, args.end());
  auto want_operands = [&](size_t n, const char* what) -> bool {
    return operands.size() == n || (Usage(absl::StrCat(command, " takes ", what)), false);
  };
  namespace vc = voxflow::voxctl;

  if (command == "health") {
    if (!want_operands(0, "no arguments")) return 2;
    return Health();
  }
  if (command == "converse") {
    if (!want_operands(0, "no arguments (the question is --in FILE.wav)")) return 2;
    if (absl::GetFlag(FLAGS_in).empty()) return Usage("converse needs --in QUESTION.wav");
    vc::ConverseCommand converse;
    converse.endpoint = EndpointOr(kOrchestrator);
    converse.in_path = absl::GetFlag(FLAGS_in);
    converse.out_path = absl::GetFlag(FLAGS_out);
    converse.realtime = absl::GetFlag(FLAGS_realtime);
    converse.hands_free = absl::GetFlag(FLAGS_hands_free);
    converse.json = absl::GetFlag(FLAGS_json);
    converse.terminal = isatty(STDOUT_FILENO) != 0;
    converse.sample_rate = SampleRateOr(16000);
    converse.language = absl::GetFlag(FLAGS_language);
    converse.voice = absl::GetFlag(FLAGS_voice);
    converse.pipeline = absl::GetFlag(FLAGS_pipeline);
    converse.telemetry = absl::GetFlag(FLAGS_telemetry);
    return Report(command, vc::Converse(converse, std::cout));
  }
  if (command == "transcribe") {
    if (!want_operands(1, "one argument, the audio file")) return 2;
    return Report(command, vc::Transcribe(EndpointOr(kStt), operands[0],
                                          absl::GetFlag(FLAGS_language), std::cout));
  }
  if (command == "synthesize") {
    if (!want_operands(1, "one argument, the text (quoted)")) return 2;
    if (absl::GetFlag(FLAGS_out).empty()) return Usage("synthesize needs --out FILE.wav");
    vc::SynthesizeCommand synthesize;
    synthesize.endpoint = EndpointOr(kTts);
    synthesize.text = operands[0];
    synthesize.out_path = absl::GetFlag(FLAGS_out);
    synthesize.voice = absl::GetFlag(FLAGS_voice);
    synthesize.language = absl::GetFlag(FLAGS_language);
    synthesize.sample_rate = SampleRateOr(22050);
    return Report(command, vc::Synthesize(synthesize, std::cout));
  }
  if (command == "voices") {
    if (!want_operands(0, "no arguments")) return 2;
    return Report(command,
                  vc::ListVoices(EndpointOr(kTts), absl::GetFlag(FLAGS_language), std::cout));
  }
  return Usage(absl::StrCat("unknown command '", command, "'"));
}
