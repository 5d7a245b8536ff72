#include "services/orchestrator/session_config.h"

#include <algorithm>
#include <initializer_list>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/logging.h"
#include "services/common/sample_format.h"
#include "services/common/utf8.h"
#include "services/orchestrator/llm/tool_declarations.h"

namespace voxflow::orchestrator {
namespace {

absl::Status CheckSessionId(absl::string_view id) {
  if (id.size() > 128) {
    return absl::InvalidArgumentError("config.session_id is longer than 128 characters");
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.' && c != ':') {
      return absl::InvalidArgumentError(
          "config.session_id may only use letters, digits and - _ . :");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckJitterConfig(const v1::JitterBufferConfig& config, absl::string_view field) {
  if (config.target_duration_ms() < 0 || config.max_duration_ms() < 0 ||
      config.min_delay_ms() < 0 || config.max_delay_ms() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": durations must not be negative"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<streaming::JitterBuffer>> InputBuffer(
    const v1::SessionConfig& config, const SessionOptions& options, streaming::EventEmitter emitter,
    int* target_ms) {
  const v1::JitterBufferConfig& in = config.input_jitter_buffer();
  streaming::JitterBufferOptions input;
  input.target_duration_ms =
      in.target_duration_ms() > 0 ? in.target_duration_ms() : options.input_target_ms;
  input.max_duration_ms = in.max_duration_ms() > 0 ? in.max_duration_ms() : 2000;
  input.format = config.input_format().format();
  input.sample_rate = config.input_format().sample_rate();
  input.channels = config.input_format().channels();
  input.adaptive = in.adaptive();
  if (in.min_delay_ms() > 0) input.min_delay_ms = in.min_delay_ms();
  if (in.max_delay_ms() > 0) input.max_delay_ms = in.max_delay_ms();
  input.max_compression = 0;  // Never drop user speech: the recognizer is not a loudspeaker.
  input.emitter = std::move(emitter);
  *target_ms = input.target_duration_ms;
  auto buffer = streaming::JitterBuffer::Create(input);
  if (!buffer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.input_jitter_buffer: ", buffer.status().message()));
  }
  return buffer;
}

absl::StatusOr<std::unique_ptr<streaming::JitterBuffer>> OutputBuffer(
    const v1::SessionConfig& config, const SessionOptions& options,
    streaming::EventEmitter emitter) {
  const v1::JitterBufferConfig& out = config.output_jitter_buffer();
  streaming::JitterBufferOptions output;
  output.target_duration_ms = out.target_duration_ms();
  output.max_duration_ms =
      std::max(out.max_duration_ms() > 0 ? out.max_duration_ms() : options.output_buffer_ms,
               output.target_duration_ms + 1000);
  output.format = config.output_format().format();
  output.sample_rate = config.output_format().sample_rate();
  output.channels = config.output_format().channels();
  output.order_by_sequence = false;  // From one TTS stream: already in order.
  output.max_compression = 0;        // Pacing keeps the delay; nothing to compress.
  output.emitter = std::move(emitter);
  auto buffer = streaming::JitterBuffer::Create(output);
  if (!buffer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.output_jitter_buffer: ", buffer.status().message()));
  }
  return buffer;
}

// Endpointing and barge-in: the client's values where set (each within its range), the
// server's defaults otherwise.
absl::Status TurnTakingSettings(const v1::SessionConfig& config, const SessionOptions& options,
                                SessionSetup& setup) {
  const v1::EndpointingConfig& e = config.endpointing();
  auto check = [](int value, int low, int high, absl::string_view field) -> absl::Status {
    if (value == 0 || (value >= low && value <= high)) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(field, " ", value, " is out of range (0 for ",
                                                   "the server default, or ", low, "..", high,
                                                   ")"));
  };
  for (const absl::Status& s :
       {check(e.silence_ms(), 100, 5000, "config.endpointing.silence_ms"),
        check(e.min_speech_ms(), 20, 2000, "config.endpointing.min_speech_ms"),
        check(e.max_utterance_ms(), 1000, 120000, "config.endpointing.max_utterance_ms"),
        check(config.barge_in().min_speech_ms(), 20, 5000, "config.barge_in.min_speech_ms"),
        check(config.barge_in().min_words(), 1, 20, "config.barge_in.min_words"),
        check(config.barge_in().timeout_ms(), 100, 10000, "config.barge_in.timeout_ms")}) {
    if (!s.ok()) return s;
  }
  EndpointingSettings& endpointing = setup.endpointing = options.endpointing;
  if (e.silence_ms() > 0) endpointing.silence_ms = e.silence_ms();
  if (e.min_speech_ms() > 0) endpointing.min_speech_ms = e.min_speech_ms();
  if (e.max_utterance_ms() > 0) endpointing.max_utterance_ms = e.max_utterance_ms();
  if (endpointing.max_utterance_ms > 0 &&
      endpointing.max_utterance_ms <= endpointing.min_speech_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.endpointing.max_utterance_ms ", endpointing.max_utterance_ms,
                     " must be longer than min_speech_ms ", endpointing.min_speech_ms));
  }
  BargeInSettings& barge_in = setup.barge_in = options.barge_in;
  const v1::BargeInConfig& b = config.barge_in();
  if (b.has_enabled()) barge_in.enabled = b.enabled();
  if (b.min_speech_ms() > 0) barge_in.min_speech_ms = b.min_speech_ms();
  if (b.min_words() > 0) barge_in.min_words = b.min_words();
  if (b.timeout_ms() > 0) barge_in.timeout_ms = b.timeout_ms();
  return absl::OkStatus();
}

// The settings in force, written back into the config the stages see.
void FillInDefaults(const SessionSetup& setup, v1::SessionConfig& config) {
  const EndpointingSettings& e = setup.endpointing;
  v1::EndpointingConfig* endpointing = config.mutable_endpointing();
  endpointing->set_silence_ms(e.silence_ms);
  endpointing->set_min_speech_ms(e.min_speech_ms);
  endpointing->set_max_utterance_ms(e.max_utterance_ms);
  const BargeInSettings& b = setup.barge_in;
  v1::BargeInConfig* barge_in = config.mutable_barge_in();
  barge_in->set_enabled(b.enabled);
  barge_in->set_min_speech_ms(b.min_speech_ms);
  barge_in->set_min_words(b.min_words);
  barge_in->set_timeout_ms(b.timeout_ms);
  if (config.language().empty()) config.set_language("en-US");
}

}  // namespace

absl::StatusOr<SessionSetup> BuildSessionSetup(const v1::SessionConfig& requested,
                                               const SessionServices& services,
                                               const BufferEmitterFactory& emitter_for) {
  for (const auto& [format, field] :
       {std::pair{&requested.input_format(), "config.input_format"},
        std::pair{&requested.output_format(), "config.output_format"}}) {
    if (absl::Status s = ValidateWireFormat(*format, field); !s.ok()) return s;
  }
  SessionSetup setup;
  setup.wire_input_format = requested.input_format();
  // Opus is decoded on arrival and encoded on the way out: everything in between (jitter
  // buffers, listening, the stages and their backends) handles PCM16 at the same rate.
  v1::SessionConfig config = requested;
  *config.mutable_input_format() = DecodedFormat(requested.input_format());
  *config.mutable_output_format() = DecodedFormat(requested.output_format());
  if (requested.input_format().format() == v1::OPUS) {
    absl::StatusOr<std::unique_ptr<OpusStreamDecoder>> decoder =
        OpusStreamDecoder::Create(requested.input_format());
    if (!decoder.ok()) return decoder.status();
    setup.opus_in = *std::move(decoder);
  }
  std::unique_ptr<OpusStreamEncoder> opus_out;
  if (requested.output_format().format() == v1::OPUS) {
    absl::StatusOr<std::unique_ptr<OpusStreamEncoder>> encoder =
        OpusStreamEncoder::Create(requested.output_format());
    if (!encoder.ok()) return encoder.status();
    opus_out = *std::move(encoder);
  }
  const SessionOptions& options = services.options;
  if (absl::Status s = CheckSessionId(config.session_id()); !s.ok()) return s;
  setup.pipeline = services.pipelines->Find(config.pipeline());
  if (setup.pipeline == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.pipeline: unknown pipeline ", QuoteClientValue(config.pipeline()),
        " (this server runs: ", absl::StrJoin(services.pipelines->Names(), ", "), ")"));
  }
  for (const auto& [buffer, field] :
       {std::pair{&config.input_jitter_buffer(), "config.input_jitter_buffer"},
        std::pair{&config.output_jitter_buffer(), "config.output_jitter_buffer"}}) {
    if (absl::Status s = CheckJitterConfig(*buffer, field); !s.ok()) return s;
  }
  auto input = InputBuffer(config, options, emitter_for("input"), &setup.input_target_ms);
  if (!input.ok()) return input.status();
  setup.input_buffer = *std::move(input);
  auto output = OutputBuffer(config, options, emitter_for("output"));
  if (!output.ok()) return output.status();

  if (absl::Status s = TurnTakingSettings(config, options, setup); !s.ok()) return s;
  if (!v1::VoiceDetector_IsValid(config.voice_detector())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.voice_detector: unknown value ", config.voice_detector(),
        " (VOICE_DETECTOR_UNSPECIFIED, VOICE_DETECTOR_WEBRTC or VOICE_DETECTOR_NOISE_ROBUST)"));
  }
  if (config.voice_detector() == v1::VOICE_DETECTOR_UNSPECIFIED) {
    config.set_voice_detector(options.voice_detector);
  }
  if (!v1::EchoCancellation_IsValid(config.echo_cancellation())) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.echo_cancellation: unknown value ", config.echo_cancellation(),
                     " (ECHO_CANCELLATION_UNSPECIFIED, ECHO_CANCELLATION_OFF, "
                     "ECHO_CANCELLATION_ON or ECHO_CANCELLATION_AUTO)"));
  }
  if (config.echo_cancellation() == v1::ECHO_CANCELLATION_UNSPECIFIED) {
    config.set_echo_cancellation(options.echo_cancellation);
  }
  const bool automatic = config.echo_cancellation() == v1::ECHO_CANCELLATION_AUTO;
  if (automatic && !EchoCanceller::SupportsNearFormat(config.input_format())) {
    // AUTO on input the canceller cannot clean (stereo, 44.1 kHz): none.
  } else if (config.echo_cancellation() != v1::ECHO_CANCELLATION_OFF) {
    auto echo = EchoCanceller::Create(
        config.input_format(), config.output_format(),
        automatic ? EchoCanceller::Engage::kOnEcho : EchoCanceller::Engage::kAlways);
    if (!echo.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config.echo_cancellation: ", echo.status().message()));
    }
    setup.echo = *std::move(echo);
  }
  const bool behind_echo_canceller = setup.echo != nullptr;
  auto vad = services.vad_factory
                 ? services.vad_factory(config.input_format(), config.voice_detector(),
                                        behind_echo_canceller)
                 : CreateVoiceActivityDetector(config.input_format(), config.voice_detector(),
                                               behind_echo_canceller);
  if (!vad.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.input_format: no voice activity detection: ", vad.status().message()));
  }
  setup.vad = *std::move(vad);
  if (absl::Status s = CheckLlmSettings(config.llm()); !s.ok()) return s;
  if (services.voices != nullptr) {
    if (absl::Status s = services.voices->Check(config.voice(), config.language()); !s.ok()) {
      return s;
    }
  }

  setup.playout = std::make_unique<ReplyPlayout>(
      *std::move(output), config.output_format(),
      ReplyPlayout::Options{.frame_ms = options.frame_ms,
                            .lead_ms = options.output_lead_ms,
                            .max_buffered_ms = options.output_buffer_ms},
      std::move(opus_out));
  FillInDefaults(setup, config);
  setup.config = std::make_shared<const v1::SessionConfig>(std::move(config));
  return setup;
}

std::unique_ptr<Listener> MakeListener(SessionSetup& setup, const SessionOptions& options,
                                       ListenerHooks* hooks) {
  auto listener =
      std::make_unique<Listener>(Listener::Options{.frame_ms = options.frame_ms,
                                                   .leading_silence_ms = options.leading_silence_ms,
                                                   .input_target_ms = setup.input_target_ms},
                                 setup.config->input_format(), std::move(setup.input_buffer),
                                 std::move(setup.vad), setup.endpointing, setup.barge_in, hooks);
  listener->UseEchoCanceller(std::move(setup.echo));
  return listener;
}

absl::Status CheckLlmSettings(const v1::LlmSettings& llm) {
  if (llm.system_prompt().size() > 8000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.llm.system_prompt of ", llm.system_prompt().size(), " bytes is longer than 8000"));
  }
  if (absl::Status s = CheckUtf8(llm.system_prompt(), "config.llm.system_prompt"); !s.ok()) {
    return s;
  }
  if (llm.model().size() > 200) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.llm.model ", QuoteClientValue(llm.model()), " is longer than 200 bytes"));
  }
  if (absl::Status s = CheckUtf8(llm.model(), "config.llm.model"); !s.ok()) return s;
  if (llm.has_temperature() && !(llm.temperature() >= 0 && llm.temperature() <= 2)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.llm.temperature ", llm.temperature(), " is not in 0..2"));
  }
  if (absl::Status s = DeclaredTools({}, llm).status(); !s.ok()) return s;
  return ToolTimeout({}, llm).status();
}

}  // namespace voxflow::orchestrator
