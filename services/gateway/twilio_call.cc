#include "services/gateway/twilio_call.h"

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/gateway/gateway_metrics.h"
#include "spdlog/spdlog.h"

namespace voxflow::gateway {
namespace {

constexpr int kMulawBytesPerMs = 8;  // 8 kHz, one byte a sample.

bool IsDtmfDigit(absl::string_view digit) {
  return digit.size() == 1 &&
         absl::string_view("0123456789*#ABCD").find(digit[0]) != absl::string_view::npos;
}

}  // namespace

void TwilioCall::OnText(absl::string_view text) {
  if (ended_) return;
  absl::StatusOr<TwilioMessage> message = ParseTwilioMessage(text);
  if (!message.ok()) {
    const bool unknown = absl::StrContains(message.status().message(), "unknown event");
    io_.Close(unknown ? kClosePolicy : kCloseInvalidPayload,
              CloseReason(message.status().message()));
    ended_ = true;
    io_.CancelConverse();
    return;
  }
  std::visit(
      [this](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, TwilioConnected>) {
          // Nothing to do: `start` follows.
        } else if constexpr (std::is_same_v<T, TwilioStart>) {
          OnStart(m);
        } else if constexpr (std::is_same_v<T, TwilioMedia>) {
          OnMedia(m);
        } else if constexpr (std::is_same_v<T, TwilioMark>) {
          OnMark(m);
        } else if constexpr (std::is_same_v<T, TwilioDtmf>) {
          OnDtmf(m);
        } else if constexpr (std::is_same_v<T, TwilioStop>) {
          spdlog::info("twilio call {} stream {}: stop", call_sid_, stream_sid_);
          ended_ = true;
          io_.CancelConverse();
          io_.Close(kCloseNormal, "stop");
        }
      },
      *message);
}

void TwilioCall::OnBinary(absl::string_view /*data*/) {
  if (ended_) return;
  ended_ = true;
  io_.CancelConverse();
  io_.Close(kCloseUnsupported, "twilio media streams send text frames only");
}

void TwilioCall::OnStart(const TwilioStart& start) {
  if (started_) {
    ended_ = true;
    io_.CancelConverse();
    io_.Close(kClosePolicy, "start sent twice");
    return;
  }
  if (start.encoding != "audio/x-mulaw" || start.sample_rate != 8000 || start.channels != 1) {
    ended_ = true;
    io_.Close(kCloseInvalidPayload,
              CloseReason(absl::StrCat("start.mediaFormat: only audio/x-mulaw 8000 Hz mono, got ",
                                       QuoteClientValue(start.encoding, 32), " ", start.sample_rate,
                                       " Hz ", start.channels, " channels")));
    return;
  }
  started_ = true;
  stream_sid_ = start.stream_sid;
  call_sid_ = start.call_sid;
  v1::SessionConfig config;
  for (v1::AudioStreamFormat* format :
       {config.mutable_input_format(), config.mutable_output_format()}) {
    format->set_format(v1::MULAW);
    format->set_sample_rate(8000);
    format->set_channels(1);
  }
  // A phone line: the caller may be on a speakerphone, and the orchestrator cancels the reply's
  // echo on it from the start.
  config.set_echo_cancellation(v1::ECHO_CANCELLATION_AUTO);
  auto& attributes = *config.mutable_attributes();
  for (const auto& [key, value] : start.custom_parameters) {
    if (key == "pipeline") {
      config.set_pipeline(value);
    } else if (key == "voice") {
      config.set_voice(value);
    } else if (key == "language") {
      config.set_language(value);
    } else {
      attributes[key] = value;
    }
  }
  attributes["twilio_call_sid"] = start.call_sid;
  attributes["twilio_stream_sid"] = start.stream_sid;
  spdlog::info("twilio call {} stream {}: start", QuoteClientValue(call_sid_),
               QuoteClientValue(stream_sid_));
  io_.StartConverse(std::move(config));
}

void TwilioCall::OnMedia(const TwilioMedia& media) {
  if (!started_) {
    ended_ = true;
    io_.Close(kClosePolicy, "media before start");
    return;
  }
  // A bidirectional stream carries the caller only; anything else is not theirs to hear.
  if (!media.track.empty() && media.track != "inbound") return;
  if (media.audio.empty()) return;
  v1::ConverseRequest request;
  v1::AudioChunk* chunk = request.mutable_audio();
  chunk->set_data(media.audio);
  chunk->set_sample_rate(8000);
  chunk->set_channels(1);
  chunk->set_format(v1::MULAW);
  chunk->set_timestamp_ms(media.timestamp_ms);
  // Twilio counts chunks from 1; the API counts sequences from 0.
  const uint64_t sequence =
      media.chunk >= 1 ? static_cast<uint64_t>(media.chunk - 1) : next_sequence_;
  chunk->set_sequence(sequence);
  next_sequence_ = sequence + 1;
  clock_.InputArrived(static_cast<double>(media.audio.size()) / kMulawBytesPerMs);
  io_.SendConverse(std::move(request));
}

void TwilioCall::OnMark(const TwilioMark& mark) {
  // Twilio hands marks back in the order they were sent; one we do not know is ignored.
  while (!marks_.empty()) {
    PendingMark pending = std::move(marks_.front());
    marks_.pop_front();
    if (pending.name != mark.name) continue;
    if (!pending.cleared) {
      v1::ConverseRequest request;
      request.mutable_playback()->set_turn_id(pending.turn_id);
      request.mutable_playback()->set_played_ms(pending.played_ms);
      io_.SendConverse(std::move(request));
    }
    return;
  }
}

void TwilioCall::OnDtmf(const TwilioDtmf& dtmf) {
  // A key press is never an error: one the API cannot carry is only logged.
  if (!started_ || !IsDtmfDigit(dtmf.digit)) {
    spdlog::info("twilio call {}: dtmf {} ignored", call_sid_, QuoteClientValue(dtmf.digit));
    return;
  }
  v1::ConverseRequest request;
  request.mutable_dtmf()->set_digits(dtmf.digit);
  io_.SendConverse(std::move(request));
}

void TwilioCall::OnEvent(const v1::ConverseEvent& event) {
  if (ended_) return;
  switch (event.event_case()) {
    case v1::ConverseEvent::kSessionStarted:
      spdlog::info("twilio call {}: session {}", call_sid_, event.session_started().session_id());
      break;
    case v1::ConverseEvent::kUserSpeech:
      if (event.user_speech().type() == v1::UserSpeech::STOPPED) {
        clock_.SpeechEnded(event.user_speech().stream_ms());
      }
      break;
    case v1::ConverseEvent::kReplyAudio:
      OnReplyAudio(event.reply_audio());
      break;
    case v1::ConverseEvent::kTelemetry: {
      const std::string& name = event.telemetry().name();
      if (name == "turn.reply_paused" || name == "turn.interrupted") {
        if (name == "turn.interrupted") {
          auto it = event.telemetry().attributes().find("turn_id");
          int32_t turn = 0;
          if (it != event.telemetry().attributes().end() && absl::SimpleAtoi(it->second, &turn)) {
            interrupted_turn_ = turn;
          }
        }
        Clear();
      } else if (name == "turn.reply_resumed") {
        // The reply goes on from where it paused: its next audio starts a new stretch.
      }
      break;
    }
    case v1::ConverseEvent::kTurnCompleted:
      if (event.turn_completed().turn_id() == reply_turn_) MarkSentenceEnd();
      break;
    default:
      break;
  }
}

void TwilioCall::OnReplyAudio(const v1::ReplyAudio& audio) {
  if (audio.turn_id() == interrupted_turn_) return;  // In flight when it was interrupted.
  if (audio.turn_id() != reply_turn_) {
    MarkSentenceEnd();
    reply_turn_ = audio.turn_id();
    reply_ms_ = 0;
    reply_sentence_ = audio.text();
  } else if (audio.text() != reply_sentence_) {
    MarkSentenceEnd();
    reply_sentence_ = audio.text();
  }
  const std::string& data = audio.audio().data();
  if (data.empty()) return;
  if (std::optional<absl::Duration> waited = clock_.ReplyStarted(); waited.has_value()) {
    GatewayMetrics::VoiceToVoice("twilio", *waited);
  }
  reply_ms_ += static_cast<int64_t>(data.size()) / kMulawBytesPerMs;
  sentence_unmarked_ = true;
  unplayed_audio_ = true;
  io_.SendText(TwilioMediaMessage(stream_sid_, data));
}

void TwilioCall::MarkSentenceEnd() {
  if (!sentence_unmarked_) return;
  sentence_unmarked_ = false;
  PendingMark mark;
  mark.name = absl::StrCat("voxflow-", ++marks_sent_, "-turn-", reply_turn_, "-", reply_ms_, "ms");
  mark.turn_id = reply_turn_;
  mark.played_ms = reply_ms_;
  io_.SendText(TwilioMarkMessage(stream_sid_, mark.name));
  marks_.push_back(std::move(mark));
}

void TwilioCall::Clear() {
  if (!unplayed_audio_) return;
  unplayed_audio_ = false;
  sentence_unmarked_ = false;
  for (PendingMark& mark : marks_) mark.cleared = true;
  io_.SendText(TwilioClearMessage(stream_sid_));
}

void TwilioCall::OnConverseEnd(const absl::Status& status) {
  if (ended_) return;
  ended_ = true;
  if (!status.ok()) {
    spdlog::warn("twilio call {}: conversation ended: {}", call_sid_, status.ToString());
  }
  io_.Close(CloseCodeFor(status), CloseReason(status.message()));
}

}  // namespace voxflow::gateway
