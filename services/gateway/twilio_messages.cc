#include "services/gateway/twilio_messages.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/common/logging.h"

namespace voxflow::gateway {
namespace {

using Json = nlohmann::json;

absl::Status Missing(absl::string_view field) {
  return absl::InvalidArgumentError(absl::StrCat("twilio message: ", field, " is missing"));
}

// A string member; Twilio sends numbers in strings ("chunk": "1"), so both are accepted.
absl::StatusOr<std::string> StringField(const Json& object, const char* key,
                                        absl::string_view path) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return Missing(path);
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return absl::InvalidArgumentError(absl::StrCat("twilio message: ", path, " is not a string"));
}

absl::StatusOr<int64_t> IntegerField(const Json& object, const char* key, absl::string_view path) {
  absl::StatusOr<std::string> text = StringField(object, key, path);
  if (!text.ok()) return text.status();
  int64_t value = 0;
  if (!absl::SimpleAtoi(*text, &value) || value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("twilio message: ", path, " is not a count: ", QuoteClientValue(*text)));
  }
  return value;
}

absl::StatusOr<const Json*> ObjectField(const Json& object, const char* key,
                                        absl::string_view path) {
  auto it = object.find(key);
  if (it == object.end()) return Missing(path);
  if (!it->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("twilio message: ", path, " is not an object"));
  }
  return &*it;
}

absl::StatusOr<TwilioMessage> ParseStart(const Json& message) {
  absl::StatusOr<const Json*> start = ObjectField(message, "start", "start");
  if (!start.ok()) return start.status();
  const Json& s = **start;
  TwilioStart out;
  // streamSid is in the start object and beside it; either will do.
  absl::StatusOr<std::string> sid = StringField(s, "streamSid", "start.streamSid");
  if (!sid.ok()) sid = StringField(message, "streamSid", "start.streamSid");
  if (!sid.ok()) return sid.status();
  out.stream_sid = *std::move(sid);
  if (auto v = StringField(s, "accountSid", "start.accountSid"); v.ok()) out.account_sid = *v;
  if (auto v = StringField(s, "callSid", "start.callSid"); v.ok()) out.call_sid = *v;
  if (auto it = s.find("tracks"); it != s.end() && it->is_array()) {
    for (const Json& track : *it) {
      if (track.is_string()) out.tracks.push_back(track.get<std::string>());
    }
  }
  absl::StatusOr<const Json*> format = ObjectField(s, "mediaFormat", "start.mediaFormat");
  if (!format.ok()) return format.status();
  absl::StatusOr<std::string> encoding =
      StringField(**format, "encoding", "start.mediaFormat.encoding");
  if (!encoding.ok()) return encoding.status();
  out.encoding = *std::move(encoding);
  absl::StatusOr<int64_t> rate =
      IntegerField(**format, "sampleRate", "start.mediaFormat.sampleRate");
  if (!rate.ok()) return rate.status();
  absl::StatusOr<int64_t> channels =
      IntegerField(**format, "channels", "start.mediaFormat.channels");
  if (!channels.ok()) return channels.status();
  if (*rate > 192000 || *channels > 8) {
    return absl::InvalidArgumentError("twilio message: start.mediaFormat is out of range");
  }
  out.sample_rate = static_cast<int>(*rate);
  out.channels = static_cast<int>(*channels);
  if (auto it = s.find("customParameters"); it != s.end() && it->is_object()) {
    for (const auto& [key, value] : it->items()) {
      if (value.is_string()) {
        out.custom_parameters[key] = value.get<std::string>();
      } else if (!value.is_null()) {
        out.custom_parameters[key] = value.dump(-1, ' ', false, Json::error_handler_t::replace);
      }
    }
  }
  return out;
}

absl::StatusOr<TwilioMessage> ParseMedia(const Json& message) {
  absl::StatusOr<const Json*> media = ObjectField(message, "media", "media");
  if (!media.ok()) return media.status();
  TwilioMedia out;
  if (auto v = StringField(**media, "track", "media.track"); v.ok()) out.track = *v;
  absl::StatusOr<int64_t> chunk = IntegerField(**media, "chunk", "media.chunk");
  if (!chunk.ok()) return chunk.status();
  absl::StatusOr<int64_t> timestamp = IntegerField(**media, "timestamp", "media.timestamp");
  if (!timestamp.ok()) return timestamp.status();
  absl::StatusOr<std::string> payload = StringField(**media, "payload", "media.payload");
  if (!payload.ok()) return payload.status();
  if (!absl::Base64Unescape(*payload, &out.audio)) {
    return absl::InvalidArgumentError("twilio message: media.payload is not base64");
  }
  out.chunk = *chunk;
  out.timestamp_ms = *timestamp;
  return out;
}

}  // namespace

absl::StatusOr<TwilioMessage> ParseTwilioMessage(absl::string_view text) {
  Json message = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    return absl::InvalidArgumentError("twilio message: not JSON");
  }
  if (!message.is_object()) {
    return absl::InvalidArgumentError("twilio message: not a JSON object");
  }
  absl::StatusOr<std::string> event = StringField(message, "event", "event");
  if (!event.ok()) return event.status();
  if (*event == "connected") {
    TwilioConnected out;
    if (auto v = StringField(message, "protocol", "protocol"); v.ok()) out.protocol = *v;
    if (auto v = StringField(message, "version", "version"); v.ok()) out.version = *v;
    return out;
  }
  if (*event == "start") return ParseStart(message);
  if (*event == "media") return ParseMedia(message);
  if (*event == "mark") {
    absl::StatusOr<const Json*> mark = ObjectField(message, "mark", "mark");
    if (!mark.ok()) return mark.status();
    absl::StatusOr<std::string> name = StringField(**mark, "name", "mark.name");
    if (!name.ok()) return name.status();
    return TwilioMark{*std::move(name)};
  }
  if (*event == "dtmf") {
    absl::StatusOr<const Json*> dtmf = ObjectField(message, "dtmf", "dtmf");
    if (!dtmf.ok()) return dtmf.status();
    absl::StatusOr<std::string> digit = StringField(**dtmf, "digit", "dtmf.digit");
    if (!digit.ok()) return digit.status();
    TwilioDtmf out;
    out.digit = *std::move(digit);
    if (auto v = StringField(**dtmf, "track", "dtmf.track"); v.ok()) out.track = *v;
    return out;
  }
  if (*event == "stop") {
    TwilioStop out;
    if (auto stop = ObjectField(message, "stop", "stop"); stop.ok()) {
      if (auto v = StringField(**stop, "accountSid", "stop.accountSid"); v.ok()) {
        out.account_sid = *v;
      }
      if (auto v = StringField(**stop, "callSid", "stop.callSid"); v.ok()) out.call_sid = *v;
    }
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("twilio message: unknown event ", QuoteClientValue(*event)));
}

std::string TwilioMediaMessage(const std::string& stream_sid, absl::string_view mulaw) {
  // The one message sent 50 times a second per call: written directly, the same bytes as
  // nlohmann's dump (keys sorted), without its tree. Only the stream sid needs escaping.
  std::string sid = Json(stream_sid).dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(60 + sid.size() + (mulaw.size() + 2) / 3 * 4);
  absl::StrAppend(&out, R"({"event":"media","media":{"payload":")", absl::Base64Escape(mulaw),
                  R"("},"streamSid":)", sid, "}");
  return out;
}

std::string TwilioMarkMessage(const std::string& stream_sid, const std::string& name) {
  return Json{{"event", "mark"}, {"streamSid", stream_sid}, {"mark", {{"name", name}}}}.dump(
      -1, ' ', false, Json::error_handler_t::replace);
}

std::string TwilioClearMessage(const std::string& stream_sid) {
  return Json{{"event", "clear"}, {"streamSid", stream_sid}}.dump(-1, ' ', false,
                                                                  Json::error_handler_t::replace);
}

}  // namespace voxflow::gateway
