#include "services/gateway/browser_call.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "services/common/audio_chunk.h"
#include "services/gateway/gateway_metrics.h"
#include "spdlog/spdlog.h"

namespace voxflow::gateway {
namespace {

constexpr double kOpusPacketMs = 20;

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace

void BrowserCall::Fail(uint16_t code, absl::string_view reason) {
  ended_ = true;
  io_.CancelConverse();
  io_.Close(code, CloseReason(reason));
}

void BrowserCall::OnText(absl::string_view text) {
  if (ended_) return;
  google::protobuf::util::JsonParseOptions options;
  if (!configured_) {
    v1::SessionConfig config;
    if (auto status =
            google::protobuf::util::JsonStringToMessage(std::string(text), &config, options);
        !status.ok()) {
      Fail(kCloseInvalidPayload,
           absl::StrCat("config: the first frame must be a SessionConfig in JSON: ",
                        status.message().ToString()));
      return;
    }
    configured_ = true;
    input_format_ = config.input_format();
    if (input_format_.format() != v1::OPUS) {
      absl::StatusOr<int> bytes = BytesPerSample(input_format_.format());
      if (bytes.ok()) {
        input_bytes_per_ms_ = static_cast<double>(*bytes) * input_format_.channels() *
                              input_format_.sample_rate() / 1000.0;
      }
    }
    // The orchestrator validates the rest of the config and names the field it refuses.
    io_.StartConverse(std::move(config));
    return;
  }
  v1::ConverseRequest request;
  if (auto status =
          google::protobuf::util::JsonStringToMessage(std::string(text), &request, options);
      !status.ok()) {
    Fail(kCloseInvalidPayload,
         absl::StrCat("request: not a ConverseRequest in JSON: ", status.message().ToString()));
    return;
  }
  if (request.has_config()) {
    Fail(kClosePolicy, "config sent twice: only the first frame may be a SessionConfig");
    return;
  }
  io_.SendConverse(std::move(request));
}

void BrowserCall::OnBinary(absl::string_view data) {
  if (ended_) return;
  if (!configured_) {
    Fail(kClosePolicy, "audio before config: the first frame must be a SessionConfig (JSON text)");
    return;
  }
  v1::ConverseRequest request;
  v1::AudioChunk* chunk = request.mutable_audio();
  chunk->set_data(std::string(data));
  chunk->set_sample_rate(input_format_.sample_rate());
  chunk->set_channels(input_format_.channels());
  chunk->set_format(input_format_.format());
  chunk->set_sequence(sequence_++);
  chunk->set_timestamp_ms(static_cast<int64_t>(input_ms_));
  const double ms = input_bytes_per_ms_ > 0 ? static_cast<double>(data.size()) / input_bytes_per_ms_
                                            : kOpusPacketMs;
  input_ms_ += ms;
  clock_.InputArrived(ms);
  io_.SendConverse(std::move(request));
}

void BrowserCall::OnEvent(const v1::ConverseEvent& event) {
  if (ended_) return;
  if (event.has_user_speech() && event.user_speech().type() == v1::UserSpeech::STOPPED) {
    clock_.SpeechEnded(event.user_speech().stream_ms());
  }
  if (!event.has_reply_audio()) {
    io_.SendText(ToJson(event));
    return;
  }
  const v1::ReplyAudio& audio = event.reply_audio();
  if (audio.turn_id() != reply_turn_ || audio.text() != reply_sentence_) {
    reply_turn_ = audio.turn_id();
    reply_sentence_ = audio.text();
    v1::ConverseEvent header = event;
    header.mutable_reply_audio()->mutable_audio()->clear_data();
    io_.SendText(ToJson(header));
  }
  if (std::optional<absl::Duration> waited = clock_.ReplyStarted(); waited.has_value()) {
    GatewayMetrics::VoiceToVoice("browser", *waited);
  }
  io_.SendBinary(audio.audio().data());
}

void BrowserCall::OnConverseEnd(const absl::Status& status) {
  if (ended_) return;
  ended_ = true;
  if (!status.ok()) spdlog::info("browser call: conversation ended: {}", status.ToString());
  io_.Close(CloseCodeFor(status), CloseReason(status.message()));
}

}  // namespace voxflow::gateway
