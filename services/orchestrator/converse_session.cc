#include "services/orchestrator/converse_session.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "services/common/audio_chunk.h"
#include "services/common/logging.h"
#include "services/common/opus_codec.h"
#include "services/common/sample_format.h"
#include "services/common/utf8.h"
#include "services/common/worker_pool.h"
#include "services/orchestrator/llm/tool_declarations.h"
#include "services/orchestrator/stages/conversation_stages.h"
#include "services/orchestrator/turn.h"
#include "services/orchestrator/turn_report.h"
#include "spdlog/spdlog.h"

namespace voxflow::orchestrator {

namespace {

std::string NewSessionId() {
  // std::mutex, not absl::Mutex: TSan sees only the former in Debian's uninstrumented Abseil.
  static std::mutex mu;
  static std::mt19937_64 gen(std::random_device{}());
  std::lock_guard<std::mutex> lock(mu);
  return absl::StrFormat("s-%016x", gen());
}

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

}  // namespace

std::shared_ptr<ConverseSession> ConverseSession::Create(const SessionServices& services,
                                                         EventSink send, EndSink end) {
  return std::shared_ptr<ConverseSession>(
      new ConverseSession(services, std::move(send), std::move(end)));
}

ConverseSession::ConverseSession(const SessionServices& services, EventSink send, EndSink end)
    : services_(services),
      token_(CancellationToken::Create()),
      send_(std::move(send)),
      end_(std::move(end)) {}

ConverseSession::~ConverseSession() = default;

absl::Status ConverseSession::HandleRequest(v1::ConverseRequest request) {
  ScopedLogContext log_context(session_id_, 0);  // Empty until the config names the session.
  last_request_ns_ = absl::ToUnixNanos(absl::Now());
  {
    std::lock_guard<std::mutex> lock(mu_);
    WakeTicksLocked();
  }
  if (request.request_case() == v1::ConverseRequest::kConfig) {
    if (configured_) {
      return absl::InvalidArgumentError(
          "config sent twice: only the first request may be a SessionConfig");
    }
    return Configure(request.config());
  }
  if (request.request_case() == v1::ConverseRequest::REQUEST_NOT_SET) {
    return absl::InvalidArgumentError("empty request: set config, audio, text or control");
  }
  if (!configured_) {
    const char* what = request.has_audio()         ? "audio"
                       : request.has_text()        ? "text"
                       : request.has_tool_result() ? "tool_result"
                       : request.has_playback()    ? "playback"
                       : request.has_dtmf()        ? "dtmf"
                                                   : "control";
    return absl::InvalidArgumentError(
        absl::StrCat(what, " before config: the first request must be a SessionConfig"));
  }
  Actions actions;
  const absl::Time now = absl::Now();
  switch (request.request_case()) {
    case v1::ConverseRequest::kAudio:
      return PushAudio(std::move(*request.mutable_audio()));
    case v1::ConverseRequest::kToolResult:
      return HandleToolResult(request.tool_result());
    case v1::ConverseRequest::kText: {
      std::string text(absl::StripAsciiWhitespace(request.text().text()));
      if (text.empty()) return absl::InvalidArgumentError("text.text is empty");
      if (absl::Status s = CheckUtf8(text, "text.text"); !s.ok()) return s;
      if (text.size() > 10000) {
        return absl::InvalidArgumentError("text.text is longer than 10000 bytes");
      }
      std::lock_guard<std::mutex> lock(mu_);
      auto turn =
          std::make_shared<Turn>(shared_from_this(), ++turns_started_, std::move(text), nullptr);
      StartTurnLocked(turn, actions);
      break;
    }
    case v1::ConverseRequest::kPlayback: {
      const v1::PlaybackProgress& playback = request.playback();
      if (playback.turn_id() <= 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "playback.turn_id must name a turn of this session (> 0), got ", playback.turn_id()));
      }
      if (playback.played_ms() < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("playback.played_ms must be >= 0, got ", playback.played_ms()));
      }
      std::lock_guard<std::mutex> lock(mu_);
      // A turn already completed keeps what it reported; a later report changes nothing.
      for (const std::shared_ptr<Turn>& turn : turns_) {
        if (turn->turn_id() == playback.turn_id()) {
          turn->heard.Played(static_cast<double>(playback.played_ms()));
        }
      }
      break;
    }
    case v1::ConverseRequest::kDtmf: {
      const std::string& digits = request.dtmf().digits();
      if (digits.empty() || digits.size() > 32) {
        return absl::InvalidArgumentError(
            absl::StrCat("dtmf.digits must hold 1..32 digits, got ", digits.size()));
      }
      for (size_t i = 0; i < digits.size(); ++i) {
        if (!absl::ascii_isdigit(digits[i]) &&
            std::string_view("*#ABCD").find(digits[i]) == std::string_view::npos) {
          return absl::InvalidArgumentError(absl::StrCat("dtmf.digits: byte ", i,
                                                         " is not one of 0-9 * # A-D (",
                                                         QuoteClientValue(digits), ")"));
        }
      }
      SendTelemetry("input.dtmf", {{"digits", digits}});
      std::lock_guard<std::mutex> lock(mu_);
      auto turn = std::make_shared<Turn>(
          shared_from_this(), ++turns_started_,
          absl::StrCat("The caller pressed ", digits, " on the keypad."), nullptr);
      StartTurnLocked(turn, actions);
      break;
    }
    case v1::ConverseRequest::kControl: {
      std::lock_guard<std::mutex> lock(mu_);
      switch (request.control().type()) {
        case v1::Control::END_OF_INPUT:
          DrainInputLocked(/*all=*/true, now, RequestHandOvers(), actions);
          EndUtteranceLocked(EndReason::kEndOfInput, now, actions);
          break;
        case v1::Control::INTERRUPT:
          InterruptLocked("interrupt request", actions);
          break;
        default:
          return absl::InvalidArgumentError(
              absl::StrCat("control.type must be END_OF_INPUT (1) or INTERRUPT (2), got ",
                           static_cast<int>(request.control().type())));
      }
      break;
    }
    default:
      break;
  }
  Run(actions);
  return absl::OkStatus();
}

absl::Status ConverseSession::Configure(const v1::SessionConfig& requested) {
  for (const auto& [format, field] :
       {std::pair{&requested.input_format(), "config.input_format"},
        std::pair{&requested.output_format(), "config.output_format"}}) {
    if (absl::Status s = ValidateWireFormat(*format, field); !s.ok()) return s;
  }
  // Opus is decoded on arrival and encoded on the way out: everything in between (jitter
  // buffers, listening, the stages and their backends) handles PCM16 at the same rate.
  v1::SessionConfig config = requested;
  *config.mutable_input_format() = DecodedFormat(requested.input_format());
  *config.mutable_output_format() = DecodedFormat(requested.output_format());
  std::unique_ptr<OpusStreamDecoder> opus_in;
  if (requested.input_format().format() == v1::OPUS) {
    absl::StatusOr<std::unique_ptr<OpusStreamDecoder>> decoder =
        OpusStreamDecoder::Create(requested.input_format());
    if (!decoder.ok()) return decoder.status();
    opus_in = *std::move(decoder);
  }
  std::unique_ptr<OpusStreamEncoder> opus_out;
  if (requested.output_format().format() == v1::OPUS) {
    absl::StatusOr<std::unique_ptr<OpusStreamEncoder>> encoder =
        OpusStreamEncoder::Create(requested.output_format());
    if (!encoder.ok()) return encoder.status();
    opus_out = *std::move(encoder);
  }
  const SessionOptions& options = services_.options;
  if (absl::Status s = CheckSessionId(config.session_id()); !s.ok()) return s;
  std::shared_ptr<const PipelineGraph> pipeline = services_.pipelines->Find(config.pipeline());
  if (pipeline == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.pipeline: unknown pipeline ", QuoteClientValue(config.pipeline()),
        " (this server runs: ", absl::StrJoin(services_.pipelines->Names(), ", "), ")"));
  }
  if (absl::Status s =
          CheckJitterConfig(config.input_jitter_buffer(), "config.input_jitter_buffer");
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckJitterConfig(config.output_jitter_buffer(), "config.output_jitter_buffer");
      !s.ok()) {
    return s;
  }

  std::weak_ptr<ConverseSession> weak = weak_from_this();
  auto emitter_for = [weak](std::string buffer) -> streaming::EventEmitter {
    return [weak, buffer](absl::string_view name, const streaming::EventAttributes& attributes) {
      auto self = weak.lock();
      if (self == nullptr) return;
      streaming::EventAttributes tagged = attributes;
      tagged["buffer"] = buffer;
      self->SendTelemetry(name, tagged);
    };
  };

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
  input.emitter = emitter_for("input");
  auto input_buffer = streaming::JitterBuffer::Create(input);
  if (!input_buffer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.input_jitter_buffer: ", input_buffer.status().message()));
  }

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
  output.emitter = emitter_for("output");
  auto output_buffer = streaming::JitterBuffer::Create(output);
  if (!output_buffer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.output_jitter_buffer: ", output_buffer.status().message()));
  }

  if (absl::Status s = ConfigureTurnTaking(config); !s.ok()) return s;
  if (absl::Status s = CheckLlmSettings(config.llm()); !s.ok()) return s;
  if (services_.voices != nullptr) {
    if (absl::Status s = services_.voices->Check(config.voice(), config.language()); !s.ok()) {
      return s;
    }
  }

  std::string id = config.session_id();
  if (services_.live_sessions != nullptr) {
    if (id.empty()) {
      do {
        id = NewSessionId();
      } while (!services_.live_sessions->Claim(id));
    } else if (!services_.live_sessions->Claim(id)) {
      return absl::AlreadyExistsError(absl::StrCat(
          "config.session_id ", QuoteClientValue(id),
          " names a conversation in progress: a session id belongs to one live conversation "
          "(its memory ends with it); leave it empty to get a new one"));
    }
  } else if (id.empty()) {
    id = NewSessionId();
  }

  std::lock_guard<std::mutex> lock(mu_);
  config_ = config;
  {
    // The stages see the settings in force (the server's defaults filled in).
    const EndpointingSettings& e = segmenter_->settings();
    v1::EndpointingConfig* endpointing = config_.mutable_endpointing();
    endpointing->set_silence_ms(e.silence_ms);
    endpointing->set_min_speech_ms(e.min_speech_ms);
    endpointing->set_max_utterance_ms(e.max_utterance_ms);
    const BargeInSettings& b = barge_in_->settings();
    v1::BargeInConfig* barge_in = config_.mutable_barge_in();
    barge_in->set_enabled(b.enabled);
    barge_in->set_min_speech_ms(b.min_speech_ms);
    barge_in->set_min_words(b.min_words);
    barge_in->set_timeout_ms(b.timeout_ms);
  }
  if (config_.language().empty()) config_.set_language("en-US");
  session_id_ = std::move(id);
  id_claimed_ = services_.live_sessions != nullptr;
  pipeline_ = std::move(pipeline);
  telemetry_ = config.telemetry();
  input_target_ms_ = input.target_duration_ms;
  input_buffer_ = *std::move(input_buffer);
  playout_ = std::make_unique<ReplyPlayout>(
      *std::move(output_buffer), config.output_format(),
      ReplyPlayout::Options{.frame_ms = options.frame_ms,
                            .lead_ms = options.output_lead_ms,
                            .max_buffered_ms = options.output_buffer_ms},
      std::move(opus_out));
  wire_input_format_ = requested.input_format();
  opus_in_ = std::move(opus_in);
  input_bytes_per_ms_ =
      static_cast<double>(*BytesForDuration(1000, config.input_format())) / 1000.0;
  configured_ = true;

  v1::ConverseEvent event;
  v1::SessionStarted* started = event.mutable_session_started();
  started->set_session_id(session_id_);
  started->set_pipeline(pipeline_->name());
  for (const std::string& name : pipeline_->OrderedNames()) started->add_stages(name);
  Send(std::move(event));
  ScopedLogContext log_context(session_id_, 0);
  spdlog::info("session {} started pipeline={} input={}Hz output={}Hz", session_id_,
               pipeline_->name(), config.input_format().sample_rate(),
               config.output_format().sample_rate());
  return absl::OkStatus();
}

absl::Status ConverseSession::CheckLlmSettings(const v1::LlmSettings& llm) {
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

absl::Status ConverseSession::HandleToolResult(const v1::ToolResult& result) {
  if (result.id().empty()) return absl::InvalidArgumentError("tool_result.id is empty");
  if (result.id().size() > 256) {
    return absl::InvalidArgumentError("tool_result.id is longer than 256 bytes");
  }
  LlmToolAnswer answer;
  switch (result.result_case()) {
    case v1::ToolResult::kContentJson: {
      if (result.content_json().size() > 64 * 1024) {
        return absl::InvalidArgumentError(absl::StrCat("tool_result.content_json of ",
                                                       result.content_json().size(),
                                                       " bytes is longer than 65536"));
      }
      if (!IsJson(result.content_json())) {
        return absl::InvalidArgumentError(absl::StrCat("tool_result.content_json is not JSON: ",
                                                       QuoteClientValue(result.content_json())));
      }
      answer.content_json = result.content_json();
      break;
    }
    case v1::ToolResult::kError:
      if (result.error().size() > 4096) {
        return absl::InvalidArgumentError("tool_result.error is longer than 4096 bytes");
      }
      answer.error = result.error().empty() ? "the tool failed" : result.error();
      break;
    default:
      return absl::InvalidArgumentError("tool_result sets neither content_json nor error");
  }
  if (absl::Status s = tool_calls_.Answer(result.id(), std::move(answer)); !s.ok()) {
    // Late (after its timeout) rather than malformed: the conversation goes on.
    v1::ConverseEvent event;
    event.mutable_error()->set_code(static_cast<int>(s.code()));
    event.mutable_error()->set_message(std::string(s.message()));
    event.mutable_error()->set_recoverable(true);
    Send(std::move(event));
  }
  return absl::OkStatus();
}

void ConverseSession::CallTool(Turn* turn, const LlmToolCall& call, absl::Duration timeout,
                               const std::shared_ptr<CancellationToken>& cancel,
                               LlmToolAnswerSink answer) {
  if (absl::Status s = tool_calls_.Open(call.id); !s.ok()) {
    answer(LlmToolAnswer{"", std::string(s.message())});
    return;
  }
  v1::ConverseEvent event;
  v1::ToolCall* out = event.mutable_tool_call();
  out->set_id(call.id);
  out->set_name(call.name);
  out->set_arguments_json(call.arguments_json);
  out->set_turn_id(turn->turn_id());
  spdlog::debug("session {} turn {} calls tool {} ({})", session_id_, turn->turn_id(), call.name,
                call.id);
  Send(std::move(event));
  tool_calls_.Await(call.id, timeout, cancel, std::move(answer));
}

absl::Status ConverseSession::ConfigureTurnTaking(const v1::SessionConfig& config) {
  const SessionOptions& options = services_.options;
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
  EndpointingSettings endpointing = options.endpointing;
  if (e.silence_ms() > 0) endpointing.silence_ms = e.silence_ms();
  if (e.min_speech_ms() > 0) endpointing.min_speech_ms = e.min_speech_ms();
  if (e.max_utterance_ms() > 0) endpointing.max_utterance_ms = e.max_utterance_ms();
  if (endpointing.max_utterance_ms > 0 &&
      endpointing.max_utterance_ms <= endpointing.min_speech_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.endpointing.max_utterance_ms ", endpointing.max_utterance_ms,
                     " must be longer than min_speech_ms ", endpointing.min_speech_ms));
  }
  BargeInSettings barge_in = options.barge_in;
  const v1::BargeInConfig& b = config.barge_in();
  if (b.has_enabled()) barge_in.enabled = b.enabled();
  if (b.min_speech_ms() > 0) barge_in.min_speech_ms = b.min_speech_ms();
  if (b.min_words() > 0) barge_in.min_words = b.min_words();
  if (b.timeout_ms() > 0) barge_in.timeout_ms = b.timeout_ms();

  auto vad = services_.vad_factory ? services_.vad_factory(config.input_format())
                                   : CreateWebRtcVad(config.input_format());
  if (!vad.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.input_format: no voice activity detection: ", vad.status().message()));
  }
  vad_ = *std::move(vad);
  segmenter_ = std::make_unique<UtteranceSegmenter>(endpointing);
  barge_in_ = std::make_unique<BargeInDetector>(barge_in);
  return absl::OkStatus();
}

absl::Status ConverseSession::PushAudio(v1::AudioChunk chunk) {
  if (absl::Status s = ValidateChunk(chunk, wire_input_format_, services_.options.max_chunk_bytes);
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("audio: ", s.message()));
  }
  if (opus_in_ != nullptr) {
    // The decoder conceals sequence gaps (Opus's PLC) and drops late packets: what reaches the
    // jitter buffer is in order, numbered anew.
    absl::StatusOr<std::string> pcm = opus_in_->Decode(chunk.data(), chunk.sequence());
    if (!pcm.ok())
      return absl::InvalidArgumentError(absl::StrCat("audio: ", pcm.status().message()));
    if (pcm->empty()) return absl::OkStatus();
    chunk.set_data(*std::move(pcm));
    chunk.set_format(v1::PCM16);
    chunk.set_sequence(++opus_sequence_);
  }
  Actions actions;
  const absl::Time now = absl::Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Chunks without sequence numbers are taken in arrival order.
    if (chunk.sequence() != 0) client_sequences_ = true;
    if (!client_sequences_) chunk.set_sequence(arrival_counter_);
    ++arrival_counter_;
    if (absl::Status s = input_buffer_->Push(std::move(chunk), now); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("audio: ", s.message()));
    }
    request_hand_overs_ = RequestHandOvers();
    DrainInputLocked(/*all=*/false, now, request_hand_overs_, actions);
  }
  Run(actions);
  return absl::OkStatus();
}

void ConverseSession::DrainInputLocked(bool all, absl::Time now, int hand_overs, Actions& actions) {
  const double frame_ms = services_.options.frame_ms;
  const size_t bytes_per_frame = static_cast<size_t>(*BytesPerFrame(config_.input_format()));
  const size_t frame_frames = *BytesForDuration(frame_ms, config_.input_format()) / bytes_per_frame;
  if (all) input_buffer_->StartPlayout();
  while (true) {
    const streaming::JitterBufferStats stats = input_buffer_->stats();
    streaming::PlayoutFrame frame;
    if (all) {
      if (stats.bytes_buffered == 0) break;
      frame =
          input_buffer_->ReadFrames(std::min(frame_frames, stats.bytes_buffered / bytes_per_frame));
    } else if (input_buffer_->ContiguousFrames() >= frame_frames) {
      // In-order audio is heard at once: pacing it to a playout cadence would only add delay.
      // The target delay bounds how long a missing chunk is waited for; after that the read
      // conceals the gap and moves on.
      input_buffer_->StartPlayout();
      frame = input_buffer_->ReadFrames(frame_frames);
    } else if (stats.duration_ms >= input_target_ms_ + frame_ms) {
      frame = input_buffer_->Read(frame_ms);
    } else {
      break;
    }
    if (frame.prebuffering || frame.data.empty()) break;
    InputItem item;
    item.audio.set_data(std::move(frame.data));
    item.audio.set_format(config_.input_format().format());
    item.audio.set_sample_rate(config_.input_format().sample_rate());
    item.audio.set_channels(config_.input_format().channels());
    item.audio.set_sequence(input_sequence_++);
    item.audio.set_timestamp_ms(frame.media_ms);
    item.received = now;
    item.hand_overs = hand_overs;
    ListenLocked(std::move(item), now, actions);
  }
}

void ConverseSession::ListenLocked(InputItem item, absl::Time now, Actions& actions) {
  const double ms = item.audio.data().size() / input_bytes_per_ms_;
  const auto start_ms = static_cast<int64_t>(stream_ms_);
  stream_ms_ += ms;
  const bool voiced = vad_->IsSpeech(item.audio.data());
  if (voiced) {
    if (first_voiced_ == absl::InfinitePast()) first_voiced_ = now;
    last_voiced_ = now;
  }
  const UtteranceSegmenter::Events events = segmenter_->Push(start_ms, ms, voiced);
  if (events.false_start) first_voiced_ = last_voiced_ = absl::InfinitePast();  // Not speech.
  accounting_.pushed += item.audio.data().size();

  if (listening_ != nullptr) {
    accounting_.in_utterances += item.audio.data().size();
    listening_->utterance()->Append(std::move(item));
  } else {
    accounting_.pending += item.audio.data().size();
    leading_.push_back(std::move(item));
    // Before speech, keep only the last leading_silence_ms (`pending` is what leading_ holds):
    // older silence goes nowhere.
    while (segmenter_->phase() == UtteranceSegmenter::Phase::kSilence && leading_.size() > 1 &&
           (accounting_.pending - leading_.front().audio.data().size()) / input_bytes_per_ms_ >=
               services_.options.leading_silence_ms) {
      const size_t bytes = leading_.front().audio.data().size();
      accounting_.pending -= bytes;
      accounting_.silence_dropped += bytes;
      leading_.pop_front();
    }
  }
  if (events.confirmed && listening_ == nullptr) StartSpokenTurnLocked(now, actions);
  ApplyBargeInLocked(barge_in_->OnFrame(events, *segmenter_, static_cast<int64_t>(stream_ms_), ms,
                                        voiced, ReplyPlayingLocked()),
                     actions);
  if (events.ended) EndUtteranceLocked(EndReason::kEndpoint, now, actions);
}

void ConverseSession::StartSpokenTurnLocked(absl::Time now, Actions& actions) {
  auto utterance = std::make_shared<Utterance>(++accounting_.utterances);
  for (InputItem& item : leading_) {
    accounting_.pending -= item.audio.data().size();
    accounting_.in_utterances += item.audio.data().size();
    utterance->Append(std::move(item));
  }
  leading_.clear();
  auto turn = std::make_shared<Turn>(shared_from_this(), ++turns_started_, std::nullopt,
                                     std::move(utterance));
  // A spoken turn begins with its speech (turn_total_ms counts from there).
  turn->start = std::min(now, first_voiced_ == absl::InfinitePast() ? now : first_voiced_);
  listening_ = turn;
  StartTurnLocked(turn, actions);
  // Where the speech began; an utterance END_OF_INPUT made of sound that was not speech begins
  // where it was declared.
  const bool heard = segmenter_->phase() != UtteranceSegmenter::Phase::kSilence;
  SendUserSpeech(v1::UserSpeech::STARTED,
                 heard ? segmenter_->speech_start_ms() : static_cast<int64_t>(stream_ms_),
                 turn->turn_id());
}

void ConverseSession::EndUtteranceLocked(EndReason reason, absl::Time now, Actions& actions) {
  if (listening_ == nullptr && !leading_.empty()) {
    // END_OF_INPUT says "that was an utterance" even when the detector heard no speech (a
    // push-to-talk client decides for itself); a half-close only while speech is going on.
    const bool speaking = segmenter_->phase() != UtteranceSegmenter::Phase::kSilence;
    if (reason == EndReason::kEndOfInput || (reason == EndReason::kHalfClose && speaking)) {
      StartSpokenTurnLocked(now, actions);
    } else if (reason == EndReason::kHalfClose) {
      for (const InputItem& item : leading_) {  // Trailing silence: no utterance follows.
        accounting_.pending -= item.audio.data().size();
        accounting_.silence_dropped += item.audio.data().size();
      }
      leading_.clear();
    }
  }
  segmenter_->Reset();
  const absl::Time last_voiced = last_voiced_;
  first_voiced_ = last_voiced_ = absl::InfinitePast();  // The next utterance's is yet to come.
  if (listening_ == nullptr) return;
  std::shared_ptr<Turn> turn = std::move(listening_);
  listening_ = nullptr;
  // End of speech is when the caller's last voiced audio arrived; without any (END_OF_INPUT after
  // sound the detector did not take for speech), when the utterance was declared over.
  turn->Mark(TurnMark::kEndOfSpeech, last_voiced != absl::InfinitePast() ? last_voiced : now);
  turn->Mark(TurnMark::kEndOfTurn, now);
  turn->utterance()->End(now);
  SendUserSpeech(v1::UserSpeech::STOPPED,
                 last_voiced != absl::InfinitePast() ? segmenter_->speech_end_ms()
                                                     : static_cast<int64_t>(stream_ms_),
                 turn->turn_id());
  ApplyBargeInLocked(
      barge_in_->OnFrame({.ended = true}, *segmenter_, static_cast<int64_t>(stream_ms_), 0, false,
                         ReplyPlayingLocked()),
      actions);
}

bool ConverseSession::ReplyPlayingLocked() const {
  if (turns_.empty()) return false;
  const Turn& turn = *turns_.front();
  return !turn.interrupted && turn.audio_sent_ms > 0 &&
         (!turn.dag_done || playout_->bytes_buffered() > 0);
}

void ConverseSession::ApplyBargeInLocked(BargeInDetector::Action action, Actions& actions) {
  if (action == BargeInDetector::Action::kNone || turns_.empty()) return;
  Turn& turn = *turns_.front();
  const streaming::EventAttributes attributes = {
      {"turn_id", absl::StrCat(turn.turn_id())},
      {"reply_audio_sent_ms", absl::StrFormat("%.0f", turn.audio_sent_ms)},
      {"stream_ms", absl::StrFormat("%.0f", stream_ms_)}};
  switch (action) {
    case BargeInDetector::Action::kPause:
      playout_->set_paused(true);
      VoiceMetrics::CountBargeIn("paused");
      SendTelemetry("turn.reply_paused", attributes);
      break;
    case BargeInDetector::Action::kResume:
      playout_->set_paused(false);
      VoiceMetrics::CountBargeIn("resumed");
      SendTelemetry("turn.reply_resumed", attributes);
      PaceOutputLocked(absl::Now(), kFromBuffer);
      break;
    case BargeInDetector::Action::kInterrupt:
      VoiceMetrics::CountBargeIn("interrupted");
      InterruptLocked("user speech", actions);
      break;
    case BargeInDetector::Action::kNone:
      break;
  }
}

void ConverseSession::OnHeardWords(Turn* turn, int words) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || listening_.get() != turn) return;
    ApplyBargeInLocked(barge_in_->OnWords(words, *segmenter_), actions);
  }
  Run(actions);
}

void ConverseSession::OnRecognizerEndpoint(Turn* turn) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A second signal: the recognizer heard the end of the words while the detector still hears
    // sound (steady noise), or the same end a little earlier. Not while voice is heard now.
    if (closed_ || listening_.get() != turn || segmenter_->silence_run_ms() <= 0) return;
    EndUtteranceLocked(EndReason::kRecognizer, absl::Now(), actions);
  }
  Run(actions);
}

void ConverseSession::SendUserSpeech(v1::UserSpeech::Type type, int64_t stream_ms, int turn_id) {
  v1::ConverseEvent event;
  v1::UserSpeech* speech = event.mutable_user_speech();
  speech->set_type(type);
  speech->set_stream_ms(stream_ms);
  speech->set_turn_id(turn_id);
  Send(std::move(event));
}

void ConverseSession::InterruptLocked(absl::string_view reason, Actions& actions) {
  if (turns_.empty()) return;
  Turn* turn = turns_.front().get();
  if (turn->interrupted || turn->completed) return;
  turn->interrupted = true;
  barge_in_->Reset();
  // Stop the reply audio now: nothing more of this turn is sent.
  const double flushed_ms = playout_->Flush(absl::Now());
  WakeReplyRoomLocked(actions);
  const std::string heard = turn->heard.HeardText();
  SendTelemetry("turn.interrupted",
                {{"turn_id", absl::StrCat(turn->turn_id())},
                 {"reason", std::string(reason)},
                 {"reply_audio_sent_ms", absl::StrFormat("%.0f", turn->audio_sent_ms)},
                 {"reply_audio_flushed_ms", absl::StrFormat("%.0f", flushed_ms)},
                 {"heard_text", heard}});
  spdlog::info("session {} turn {} interrupted ({}) after {:.0f} ms of reply audio", session_id_,
               turn->turn_id(), reason, turn->audio_sent_ms);
  if (turn->run != nullptr && !turn->dag_done) {
    actions.push_back([run = turn->run, reason = std::string(reason)] {
      run->CancelStagesOfType({"llm", "tts"}, absl::CancelledError("barge-in: " + reason));
    });
  }
  MaybeCompleteTurnLocked(absl::Now(), actions);
}

ReplyOffer ConverseSession::TryOfferReplyAudio(Turn* turn, v1::AudioChunk& audio,
                                               const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_ || turns_.empty() || turns_.front().get() != turn || turn->interrupted) {
    return ReplyOffer::kRefused;
  }
  if (!playout_->HasRoomFor(audio.data().size())) return ReplyOffer::kFull;
  const double chunk_ms = playout_->MsOf(audio.data().size());
  if (absl::Status s = playout_->Push(std::move(audio)); !s.ok()) {
    spdlog::warn("session {} turn {}: reply audio refused: {}", session_id_, turn->turn_id(), s);
    return ReplyOffer::kRefused;
  }
  turn->heard.Take(text, chunk_ms);
  // The first frame goes out now, on the thread that read it from the TTS service.
  PaceOutputLocked(absl::Now(), /*hand_overs=*/0);
  return ReplyOffer::kTaken;
}

void ConverseSession::WhenReplyRoom(Turn* turn, size_t bytes, std::function<void()> on_room) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reply_room_waiter_ = std::move(on_room);
    reply_room_turn_ = turn;
    reply_room_bytes_ = bytes;
    WakeReplyRoomLocked(actions);
  }
  Run(actions);
}

void ConverseSession::WakeReplyRoomLocked(Actions& actions) {
  if (!reply_room_waiter_) return;
  const bool plays = !closed_ && !turns_.empty() && turns_.front().get() == reply_room_turn_ &&
                     !reply_room_turn_->interrupted;
  if (plays && !playout_->HasRoomFor(reply_room_bytes_)) return;
  actions.push_back(std::exchange(reply_room_waiter_, nullptr));
  reply_room_turn_ = nullptr;
}

void ConverseSession::PaceOutputLocked(absl::Time now, int hand_overs) {
  if (turns_.empty()) return;
  Turn& turn = *turns_.front();
  ReplyPlayout::Paced paced = playout_->Pace(now, turn);
  for (v1::ConverseEvent& frame : paced.frames) {
    if (frame.has_reply_audio()) VoiceMetrics::CountHandOvers(HandOverDirection::kOut, hand_overs);
    Send(std::move(frame));
  }
  if (paced.underrun_started) {
    SendTelemetry("stream.buffer_underrun",
                  {{"buffer", "output"},
                   {"turn_id", absl::StrCat(turn.turn_id())},
                   {"reply_audio_sent_ms", absl::StrFormat("%.0f", turn.audio_sent_ms)}});
  }
}

void ConverseSession::OnTurnDone(const std::shared_ptr<Turn>& turn, const TurnResult& result) {
  ScopedLogContext log_context(session_id_, turn->turn_id());
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    turn->dag_done = true;
    turn->result = result;
    // Its stt gave up (failed, timed out) before the utterance ended: what follows is the next
    // utterance, not audio nobody reads.
    if (listening_ == turn) EndUtteranceLocked(EndReason::kRecognizer, absl::Now(), actions);
    if (!turns_.empty() && turns_.front() == turn) {
      PaceOutputLocked(absl::Now(), kFromBuffer);  // A last short frame may go now.
      MaybeCompleteTurnLocked(absl::Now(), actions);
    }
  }
  Run(actions);
}

void ConverseSession::MaybeCompleteTurnLocked(absl::Time now, Actions& actions) {
  while (!turns_.empty()) {
    std::shared_ptr<Turn> turn = turns_.front();
    if (!turn->dag_done) return;
    if (!closed_ && !turn->interrupted && playout_->bytes_buffered() > 0) {
      return;  // Still playing.
    }
    turn->completed = true;
    if (!closed_) CompleteTurnLocked(turn, now);
    playout_->EndReply();
    barge_in_->Reset();
    turn->run = nullptr;  // Breaks the turn <-> run reference cycle.
    turns_.pop_front();
    ReleaseFrontLocked(actions);
  }
  MaybeEndStreamLocked(actions);
}

void ConverseSession::CompleteTurnLocked(const std::shared_ptr<Turn>& turn, absl::Time now) {
  const TurnResult& result = turn->result;
  const int id = turn->turn_id();
  ScopedLogContext log_context(session_id_, id);
  const std::string transcript = turn->transcript();
  bool failed = false;
  for (const StageRecord& stage : result.stages) failed |= stage.outcome == StageOutcome::kFail;
  if (transcript.empty() && !turn->text_input().has_value() && !failed) {
    // Sound without words (noise, a cough, silence at END_OF_INPUT): no turn to answer.
    SendTelemetry("turn.discarded",
                  {{"turn_id", absl::StrCat(id)}, {"reason", "no words recognised"}});
    spdlog::debug("session {} turn {} discarded: no words recognised", session_id_, id);
    return;
  }

  for (v1::ConverseEvent& error : StageErrors(*turn)) {
    spdlog::warn("session {} turn {}: {}", session_id_, id, error.error().message());
    Send(std::move(error));
  }

  // A reply cut short (barge-in, or its tts failing mid-reply) is what the caller heard.
  std::string failed_tts;
  for (size_t i = 0; i < result.stages.size(); ++i) {
    if (result.stages[i].outcome == StageOutcome::kFail &&
        pipeline_->stages()[i].spec.type() == "tts") {
      failed_tts = result.stages[i].name;
    }
  }
  std::string reply = turn->reply();
  if (turn->interrupted || !failed_tts.empty()) {
    reply = turn->heard.HeardText();
    if (!transcript.empty()) {
      // Memory keeps only what the user heard (replacing what save_memory wrote, if it ran).
      Exchange exchange{id, transcript, reply, true};
      if (absl::Status s = services_.memory->Record(session_id_, std::move(exchange)); !s.ok()) {
        spdlog::warn("session {} turn {}: cannot save the heard reply: {}", session_id_, id, s);
      }
    }
  }

  v1::ConverseEvent event;
  *event.mutable_turn_completed() = TurnReport(*turn, reply, now);
  const v1::LatencyBreakdown* latency = &event.turn_completed().latency();
  const absl::Time end_of_speech = turn->MarkTime(TurnMark::kEndOfSpeech);
  VoiceMetrics::RecordTurn(
      result, turn->first_audio_sent - end_of_speech,
      turn->first_audio_sent != absl::InfinitePast() && end_of_speech != absl::InfinitePast());
  if (latency->endpointing_delay_ms() >= 0 && !turn->text_input().has_value()) {
    VoiceMetrics::RecordEndpointing(absl::Milliseconds(latency->endpointing_delay_ms()));
  }
  ReportTotalsLocked();
  // `latency` belongs to `event`, which Send() hands to the writer: log from copies.
  const int64_t voice_to_voice_ms = latency->voice_to_voice_ms();
  const int64_t total_ms = latency->turn_total_ms();
  Send(std::move(event));

  if (telemetry_) {
    const streaming::JitterBufferStats in = input_buffer_->stats();
    SendTelemetry("turn.stats",
                  {{"turn_id", absl::StrCat(id)},
                   {"input_reordered", absl::StrCat(in.reordered)},
                   {"input_late", absl::StrCat(in.late)},
                   {"input_lost", absl::StrCat(in.lost)},
                   {"input_concealed_ms", absl::StrFormat("%.1f", in.concealed_ms)},
                   {"input_utterance_bytes", absl::StrCat(accounting_.in_utterances)},
                   {"input_silence_dropped_bytes", absl::StrCat(accounting_.silence_dropped)},
                   {"output_underruns", absl::StrCat(playout_->underruns())},
                   {"reply_audio_sent_ms", absl::StrFormat("%.0f", turn->audio_sent_ms)}});
  }
  // What was said is conversation content: at debug only (docs/ARCHITECTURE.md, "Logs").
  spdlog::info(
      "session {} turn {} done: transcript_chars={} reply_chars={} interrupted={} "
      "voice_to_voice_ms={} total_ms={} degradations=[{}]",
      session_id_, id, transcript.size(), reply.size(), turn->interrupted, voice_to_voice_ms,
      total_ms, absl::StrJoin(result.degradations, ","));
  spdlog::debug("session {} turn {} transcript={} reply={}", session_id_, id,
                QuoteClientValue(transcript, 4096), QuoteClientValue(reply, 4096));
}

void ConverseSession::MaybeEndStreamLocked(Actions& actions) {
  if (!ending_ || closed_ || !turns_.empty() || listening_ != nullptr) return;
  ending_ = false;  // Once.
  SendTelemetry("input.accounting",
                {{"pushed_bytes", absl::StrCat(accounting_.pushed)},
                 {"utterance_bytes", absl::StrCat(accounting_.in_utterances)},
                 {"silence_dropped_bytes", absl::StrCat(accounting_.silence_dropped)},
                 {"pending_bytes", absl::StrCat(accounting_.pending)},
                 {"utterances", absl::StrCat(accounting_.utterances)}});
  actions.push_back([this] {
    std::lock_guard<std::mutex> lock(sink_mu_);
    if (end_) end_(absl::OkStatus());
  });
}

void ConverseSession::ReportTotalsLocked() {
  if (!configured_) return;
  const streaming::JitterBufferStats in = input_buffer_->stats();
  StreamTotals now;
  now.input_concealed_ms = in.concealed_ms;
  now.output_underruns = playout_->underruns();
  VoiceMetrics::AddTotals(now, reported_);
  reported_ = now;
}

void ConverseSession::StartTurnLocked(const std::shared_ptr<Turn>& turn, Actions& actions) {
  if (turn->start == absl::Time()) turn->start = absl::Now();
  if (turn->text_input().has_value()) turn->Mark(TurnMark::kEndOfSpeech, turn->start);
  turns_.push_back(turn);

  StageFactories factories =
      services_.stage_factories
          ? services_.stage_factories(turn.get())
          : MakeStageFactories(turn.get(), services_.stt, services_.tts, services_.memory);
  for (auto& [type, factory] : factories) {
    factory = [turn, make = std::move(factory)](const v1::StageSpec& spec) { return make(spec); };
  }
  std::weak_ptr<ConverseSession> weak = weak_from_this();
  DagRunOptions options;
  const int id = turn->turn_id();
  options.on_event = [weak, id](v1::StageEvent stage) {
    auto self = weak.lock();
    if (self == nullptr) return;
    stage.set_turn_id(id);
    v1::ConverseEvent event;
    *event.mutable_stage() = std::move(stage);
    self->Send(std::move(event));
  };
  options.on_done = [weak, turn](const TurnResult& result) {
    if (auto self = weak.lock()) self->OnTurnDone(turn, result);
  };
  options.timers = services_.timers;
  if (services_.stage_executor != nullptr) options.executor = services_.stage_executor;
  options.log_context = {session_id_, id};
  options.seed = static_cast<uint32_t>(std::hash<std::string>()(session_id_) + id);
  options.parent = token_;
  // stt listens at once; the rest of the turn waits until the turns before it are complete.
  options.run_before_release = {"stt"};
  actions.push_back(
      [this, turn, factories = std::move(factories), options = std::move(options)]() mutable {
        std::shared_ptr<DagRun> run = DagRun::Start(pipeline_, factories, std::move(options));
        bool release = false;
        bool cancel_now = false;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (turn->completed) return;
          turn->run = run;
          release = turn->released;
          cancel_now = turn->interrupted && !turn->dag_done;
        }
        if (release) run->Release();
        if (cancel_now) {
          run->CancelStagesOfType({"llm", "tts"}, absl::CancelledError("barge-in before start"));
        }
      });
  if (turns_.size() == 1) ReleaseFrontLocked(actions);
}

void ConverseSession::ReleaseFrontLocked(Actions& actions) {
  if (turns_.empty() || turns_.front()->released) return;
  Turn& turn = *turns_.front();
  turn.released = true;
  if (turn.run != nullptr) actions.push_back([run = turn.run] { run->Release(); });
}

InputAccounting ConverseSession::input_accounting() {
  std::lock_guard<std::mutex> lock(mu_);
  return accounting_;
}

absl::Status ConverseSession::HandleEndOfInput() {
  ScopedLogContext log_context(session_id_, 0);
  if (!configured_) {
    return absl::InvalidArgumentError("stream ended before a SessionConfig was sent");
  }
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    WakeTicksLocked();
    ending_ = true;
    const absl::Time now = absl::Now();
    DrainInputLocked(/*all=*/true, now, RequestHandOvers(), actions);
    EndUtteranceLocked(EndReason::kHalfClose, now, actions);
    MaybeEndStreamLocked(actions);
  }
  Run(actions);
  return absl::OkStatus();
}

int ConverseSession::RequestHandOvers() { return Strand::RunningInline() ? 0 : 1; }

bool ConverseSession::Tick(absl::Time now) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    const absl::Duration limit = services_.options.max_session_duration;
    if (limit > absl::ZeroDuration() && now - created_ > limit && !expired_) {
      expired_ = true;  // Ends the stream; Close() follows from the stream's end.
      spdlog::info("session {} reached --max_session_duration {}", session_id_,
                   absl::FormatDuration(limit));
      actions.push_back([this, limit] {
        std::lock_guard<std::mutex> lock(sink_mu_);
        if (end_) {
          end_(absl::DeadlineExceededError(absl::StrCat(
              "the session reached the server's limit of ", absl::FormatDuration(limit))));
        }
      });
    }
    const absl::Duration idle = services_.options.idle_timeout;
    if (idle > absl::ZeroDuration() && !expired_ && turns_.empty() && listening_ == nullptr &&
        now - absl::FromUnixNanos(last_request_ns_) > idle) {
      expired_ = true;
      spdlog::info("session {} idle for {}: ending it", session_id_, absl::FormatDuration(idle));
      actions.push_back([this, idle] {
        std::lock_guard<std::mutex> lock(sink_mu_);
        if (end_) {
          end_(absl::DeadlineExceededError(
              absl::StrCat("no input for ", absl::FormatDuration(idle),
                           " while no turn ran (the server's --session_idle_timeout)")));
        }
      });
    }
    if (configured_ && !expired_) {
      ScopedLogContext log_context(session_id_, 0);
      // Held for a missing chunk: the ticker takes over from the request's thread.
      DrainInputLocked(/*all=*/false, now, request_hand_overs_ + kFromBuffer, actions);
      PaceOutputLocked(now, kFromBuffer);
      WakeReplyRoomLocked(actions);  // On this thread: the audio it takes goes out from here.
      MaybeCompleteTurnLocked(now, actions);
    }
    if (actions.empty() && IdleLocked()) {
      SleepLocked(now);
      return false;
    }
  }
  Run(actions);
  return true;
}

void ConverseSession::SetTickWaker(std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(mu_);
  wake_ticks_ = std::move(wake);
  WakeTicksLocked();
}

void ConverseSession::WakeTicksLocked() {
  if (ticking_ || closed_ || !wake_ticks_) return;
  ticking_ = true;
  if (wake_timer_ != 0) {
    services_.timers->Cancel(wake_timer_);
    wake_timer_ = 0;
  }
  wake_ticks_();
}

bool ConverseSession::IdleLocked() const {
  if (expired_ || ending_ || !turns_.empty() || listening_ != nullptr) return false;
  if (!configured_) return true;
  return input_buffer_->stats().bytes_buffered == 0 && playout_->bytes_buffered() == 0;
}

void ConverseSession::SleepLocked(absl::Time now) {
  ticking_ = false;
  absl::Time due = absl::InfiniteFuture();
  const SessionOptions& options = services_.options;
  if (options.idle_timeout > absl::ZeroDuration()) {
    due = std::min(due, absl::FromUnixNanos(last_request_ns_) + options.idle_timeout);
  }
  if (options.max_session_duration > absl::ZeroDuration()) {
    due = std::min(due, created_ + options.max_session_duration);
  }
  if (due == absl::InfiniteFuture()) return;
  // Just past the limit, so that the tick it brings finds the limit exceeded.
  std::weak_ptr<ConverseSession> weak = weak_from_this();
  wake_timer_ = services_.timers->Schedule(std::max(due, now) + absl::Milliseconds(1), [weak] {
    auto self = weak.lock();
    if (self == nullptr) return;
    std::lock_guard<std::mutex> lock(self->mu_);
    self->wake_timer_ = 0;
    self->WakeTicksLocked();
  });
}

void ConverseSession::Close() {
  {
    std::lock_guard<std::mutex> lock(sink_mu_);
    send_ = nullptr;
    end_ = nullptr;
  }
  std::string session_id;
  std::shared_ptr<Turn> listening;
  bool id_claimed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    if (wake_timer_ != 0) services_.timers->Cancel(wake_timer_);
    session_id = session_id_;
    id_claimed = id_claimed_;
    listening = std::move(listening_);
    listening_ = nullptr;
    ReportTotalsLocked();  // What came after the last turn.
    // Turns still queued or running end with the session: break each turn <-> run reference
    // cycle here, since no tick will complete them (a hang-up with queued turns leaked them).
    for (const std::shared_ptr<Turn>& turn : turns_) {
      turn->completed = true;
      turn->run = nullptr;
    }
    turns_.clear();
    reply_room_waiter_ = nullptr;  // Its stage is cancelled with the session.
    reply_room_turn_ = nullptr;
  }
  token_->Cancel(absl::CancelledError("session closed"));
  if (listening != nullptr) listening->utterance()->End(absl::Now());
  if (!session_id.empty()) services_.memory->Forget(session_id);
  if (id_claimed) services_.live_sessions->Release(session_id);  // After its memory is gone.
}

void ConverseSession::Send(v1::ConverseEvent event) {
  std::lock_guard<std::mutex> lock(sink_mu_);
  if (send_) send_(std::move(event));
}

void ConverseSession::SendTelemetry(absl::string_view name,
                                    const streaming::EventAttributes& attributes) {
  const bool turn_event = absl::StartsWith(name, "turn.");
  if (spdlog::should_log(spdlog::level::debug)) {
    std::vector<std::string> parts;
    for (const auto& [key, value] : attributes) parts.push_back(absl::StrCat(key, "=", value));
    spdlog::debug("session {} {} {}", session_id_, name, absl::StrJoin(parts, " "));
  }
  if (!telemetry_ && !turn_event) return;
  v1::ConverseEvent event;
  v1::TelemetryEvent* telemetry = event.mutable_telemetry();
  telemetry->set_name(std::string(name));
  telemetry->mutable_attributes()->insert(attributes.begin(), attributes.end());
  telemetry->set_timestamp_ms(absl::ToUnixMillis(absl::Now()));
  Send(std::move(event));
}

void ConverseSession::Run(Actions& actions) {
  for (auto& action : actions) action();
  actions.clear();
}

}  // namespace voxflow::orchestrator
