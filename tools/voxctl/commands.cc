#include "tools/voxctl/commands.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "grpcpp/client_context.h"
#include "services/common/audio_chunk.h"
#include "tools/voxctl/connect.h"
#include "tools/voxctl/conversation.h"
#include "tools/voxctl/event_printer.h"
#include "tools/voxctl/wav_file.h"
#include "voxflow/v1/stt.grpc.pb.h"
#include "voxflow/v1/tts.grpc.pb.h"

namespace voxflow::voxctl {
namespace {

v1::AudioStreamFormat Pcm16Mono(int sample_rate) {
  return MakeStreamFormat(v1::PCM16, sample_rate, 1);
}

double DurationSeconds(size_t bytes, const v1::AudioStreamFormat& format) {
  return DurationMs(bytes, format).value_or(0) / 1000.0;
}

constexpr char kSttService[] = "voxflow.v1.SpeechToText (a Voxflow STT service)";
constexpr char kTtsService[] = "voxflow.v1.TextToSpeech (a Voxflow TTS service)";

void SetDeadline(grpc::ClientContext& context, const Endpoint& endpoint) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + endpoint.timeout));
}

absl::Status CheckSampleRate(int sample_rate) {
  if (sample_rate < 8000 || sample_rate > 48000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--sample_rate ", sample_rate, " is not supported (8000..48000)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Converse(const ConverseCommand& command, std::ostream& out) {
  if (command.in_path.empty()) return absl::InvalidArgumentError("--in FILE.wav is required");
  if (absl::Status s = CheckSampleRate(command.sample_rate); !s.ok()) return s;
  const v1::AudioStreamFormat format = Pcm16Mono(command.sample_rate);
  SoundFileInfo info;
  absl::StatusOr<std::string> pcm = ReadSoundFile(command.in_path, format, &info);
  if (!pcm.ok()) return pcm.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      Connect(command.endpoint.target, "orchestrator", command.endpoint.connect_timeout,
              command.endpoint.credentials);
  if (!channel.ok()) return channel.status();

  ConversationOptions options;
  options.realtime = command.realtime || command.hands_free;
  options.hands_free = command.hands_free;
  options.timeout = command.endpoint.timeout;
  v1::SessionConfig& config = options.config;
  config.set_pipeline(command.pipeline);
  config.set_language(command.language);
  config.set_voice(command.voice);
  *config.mutable_input_format() = format;
  *config.mutable_output_format() = format;
  config.set_interim_results(true);
  config.set_telemetry(command.telemetry);

  TextPrinter text_printer(out, command.terminal);
  JsonPrinter json_printer(out);
  ConversationObserver& observer =
      command.json ? static_cast<ConversationObserver&>(json_printer) : text_printer;
  if (!command.json) {
    out << absl::StrFormat("%s: %.1f s, %d Hz, %d channel(s); sending it as 16-bit mono %d Hz%s\n",
                           command.in_path, static_cast<double>(info.frames) / info.sample_rate,
                           info.sample_rate, info.channels, command.sample_rate,
                           command.hands_free ? " at real time, then an open microphone"
                           : command.realtime ? " at real time"
                                              : "");
  }
  absl::StatusOr<ConversationResult> result =
      RunConversation(*channel, command.endpoint.target, options, *pcm, observer);
  text_printer.Done();
  if (!result.ok()) return result.status();

  if (!command.out_path.empty()) {
    if (absl::Status s = WriteWavFile(command.out_path, result->reply_audio, format); !s.ok()) {
      return s;
    }
  }
  if (!command.json) {
    if (command.out_path.empty()) {
      out << absl::StrFormat("reply audio: %.1f s (not written: no --out)\n",
                             DurationSeconds(result->reply_audio.size(), format));
    } else {
      out << absl::StrFormat("wrote %s: %.1f s of reply audio, %d Hz mono 16-bit\n",
                             command.out_path, DurationSeconds(result->reply_audio.size(), format),
                             command.sample_rate);
    }
  }
  if (!command.json && result->voice_to_voice >= absl::ZeroDuration()) {
    out << absl::StrFormat(
        "voice-to-voice measured here: %d ms (last sound sent -> first reply audio received)\n",
        absl::ToInt64Milliseconds(result->voice_to_voice));
  }
  if (result->turns.empty()) {
    return absl::UnknownError("the conversation ended without a completed turn");
  }
  return absl::OkStatus();
}

absl::Status Transcribe(const Endpoint& endpoint, const std::string& path,
                        const std::string& language, std::ostream& out) {
  const v1::AudioStreamFormat format = Pcm16Mono(16000);
  absl::StatusOr<std::string> pcm = ReadSoundFile(path, format);
  if (!pcm.ok()) return pcm.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      Connect(endpoint.target, "STT service", endpoint.connect_timeout, endpoint.credentials);
  if (!channel.ok()) return channel.status();
  v1::RecognizeClipRequest request;
  request.mutable_config()->set_language(language.empty() ? "en-US" : language);
  *request.mutable_config()->mutable_audio_format() = format;
  request.set_audio(*std::move(pcm));
  v1::RecognizeClipResponse response;
  grpc::ClientContext context;
  SetDeadline(context, endpoint);
  const grpc::Status status =
      v1::SpeechToText::NewStub(*channel)->Recognize(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, endpoint.target, kSttService);
  if (response.results().empty()) out << "(no speech recognized)\n";
  for (const v1::Transcript& transcript : response.results()) {
    out << absl::StrFormat("%s\t[%.1f-%.1f s, confidence %.2f]\n", transcript.text(),
                           transcript.start_ms() / 1000.0, transcript.end_ms() / 1000.0,
                           transcript.confidence());
  }
  return absl::OkStatus();
}

absl::Status Synthesize(const SynthesizeCommand& command, std::ostream& out) {
  if (command.text.empty()) return absl::InvalidArgumentError("no text to synthesize");
  if (command.out_path.empty()) return absl::InvalidArgumentError("--out FILE.wav is required");
  if (absl::Status s = CheckSampleRate(command.sample_rate); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      Connect(command.endpoint.target, "TTS service", command.endpoint.connect_timeout,
              command.endpoint.credentials);
  if (!channel.ok()) return channel.status();
  const v1::AudioStreamFormat format = Pcm16Mono(command.sample_rate);
  v1::SynthesizeClipRequest request;
  request.set_text(command.text);
  request.mutable_config()->set_voice(command.voice);
  request.mutable_config()->set_language(command.language);
  *request.mutable_config()->mutable_output_format() = format;
  v1::SynthesizeClipResponse response;
  grpc::ClientContext context;
  SetDeadline(context, command.endpoint);
  const grpc::Status status =
      v1::TextToSpeech::NewStub(*channel)->Synthesize(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, command.endpoint.target, kTtsService);
  const std::string& audio = response.audio().data();
  if (absl::Status s = WriteWavFile(command.out_path, audio, format); !s.ok()) return s;
  out << absl::StrFormat("wrote %s: %.2f s, %d Hz mono 16-bit\n", command.out_path,
                         DurationSeconds(audio.size(), format), command.sample_rate);
  return absl::OkStatus();
}

absl::Status ListVoices(const Endpoint& endpoint, const std::string& language, std::ostream& out) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      Connect(endpoint.target, "TTS service", endpoint.connect_timeout, endpoint.credentials);
  if (!channel.ok()) return channel.status();
  v1::ListVoicesRequest request;
  request.set_language(language);
  v1::ListVoicesResponse response;
  grpc::ClientContext context;
  SetDeadline(context, endpoint);
  const grpc::Status status =
      v1::TextToSpeech::NewStub(*channel)->ListVoices(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, endpoint.target, kTtsService);
  if (response.voices().empty()) {
    return absl::NotFoundError(language.empty()
                                   ? "the TTS service lists no voices"
                                   : absl::StrCat("no voice matches language '", language,
                                                  "' (`voxctl voices` lists them all)"));
  }
  out << absl::StrFormat("%-28s %-20s %-7s %-6s %s\n", "VOICE", "LANGUAGES", "GENDER", "RATE",
                         "PROVIDER");
  for (const v1::Voice& voice : response.voices()) {
    out << absl::StrFormat("%-28s %-20s %-7s %-6d %s\n", voice.name(),
                           absl::StrJoin(voice.languages(), ","),
                           voice.gender().empty() ? "-" : voice.gender(),
                           voice.native_sample_rate(), voice.provider());
  }
  return absl::OkStatus();
}

}  // namespace voxflow::voxctl
