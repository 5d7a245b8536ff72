// Twilio Media Streams messages (bidirectional, <Connect><Stream>), exactly as Twilio documents
// them: what Twilio sends (connected, start, media, mark, dtmf, stop) parsed from a text frame,
// and what we send back (media, mark, clear) formatted as one.
#ifndef VOXFLOW_SERVICES_GATEWAY_TWILIO_MESSAGES_H_
#define VOXFLOW_SERVICES_GATEWAY_TWILIO_MESSAGES_H_

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace voxflow::gateway {

struct TwilioConnected {
  std::string protocol;  // "Call".
  std::string version;   // "1.0.0".
};

struct TwilioStart {
  std::string stream_sid;
  std::string account_sid;
  std::string call_sid;
  std::vector<std::string> tracks;  // "inbound", "outbound".
  std::string encoding;             // mediaFormat.encoding: "audio/x-mulaw".
  int sample_rate = 0;              // mediaFormat.sampleRate: 8000.
  int channels = 0;                 // mediaFormat.channels: 1.
  std::map<std::string, std::string> custom_parameters;
};

struct TwilioMedia {
  std::string track;         // "inbound" (bidirectional streams carry only the caller).
  int64_t chunk = 0;         // 1 for the first chunk of the stream.
  int64_t timestamp_ms = 0;  // Media time from the start of the stream.
  std::string audio;         // The payload, base64-decoded: mu-law 8 kHz mono.
};

struct TwilioMark {
  std::string name;  // The name we sent: the audio before it has been played (or cleared).
};

struct TwilioDtmf {
  std::string track;  // "inbound_track".
  std::string digit;
};

struct TwilioStop {
  std::string account_sid;
  std::string call_sid;
};

using TwilioMessage =
    std::variant<TwilioConnected, TwilioStart, TwilioMedia, TwilioMark, TwilioDtmf, TwilioStop>;

// One text frame from Twilio. INVALID_ARGUMENT naming the field when it is not JSON, names an
// event Twilio does not send, or lacks a field the event needs (client values quoted and cut).
absl::StatusOr<TwilioMessage> ParseTwilioMessage(absl::string_view text);

// What we send: reply audio (mu-law 8 kHz, base64-encoded here), a mark after it, or a clear.
std::string TwilioMediaMessage(const std::string& stream_sid, absl::string_view mulaw);
std::string TwilioMarkMessage(const std::string& stream_sid, const std::string& name);
std::string TwilioClearMessage(const std::string& stream_sid);

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_TWILIO_MESSAGES_H_
