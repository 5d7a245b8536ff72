// BrowserCall: Voxflow's own WebSocket protocol, /v1/converse, for browsers and any client with a
// WebSocket library (docs/API.md "WebSocket"):
// - The first frame is text: a SessionConfig in protobuf's JSON mapping.
// - Binary frames are audio chunks in config.input_format (sequence and timestamp are counted
//   here); text frames are the other ConverseRequests in JSON (text, control, tool_result,
//   playback, dtmf).
// - The server sends ConverseEvents as JSON text frames and reply audio as binary frames: a
//   binary frame is the data of a reply_audio event, and the reply_audio event (without its
//   data) is sent as JSON before the first binary frame of each sentence, so a client knows
//   which turn and text the frames that follow speak.
#ifndef VOXFLOW_SERVICES_GATEWAY_BROWSER_CALL_H_
#define VOXFLOW_SERVICES_GATEWAY_BROWSER_CALL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/gateway/call.h"
#include "services/gateway/voice_clock.h"

namespace voxflow::gateway {

class BrowserCall final : public Call {
 public:
  BrowserCall(CallIo& io, VoiceClock& clock) : io_(io), clock_(clock) {}

  void OnText(absl::string_view text) override;
  void OnBinary(absl::string_view data) override;
  void OnEvent(const v1::ConverseEvent& event) override;
  void OnConverseEnd(const absl::Status& status) override;

 private:
  void Fail(uint16_t code, absl::string_view reason);

  CallIo& io_;
  VoiceClock& clock_;
  bool configured_ = false;
  bool ended_ = false;
  v1::AudioStreamFormat input_format_;
  double input_bytes_per_ms_ = 0;  // 0 for Opus: one 20 ms packet per frame.
  uint64_t sequence_ = 0;
  double input_ms_ = 0;
  int32_t reply_turn_ = 0;
  std::string reply_sentence_;
};

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_BROWSER_CALL_H_
