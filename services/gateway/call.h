// A caller's connection as the gateway bridges it: the WebSocket it speaks on one side, one
// Orchestrator.Converse stream on the other. A Call (Twilio's protocol, or Voxflow's own
// /v1/converse) translates between them; CallIo is everything it can do to either side. The
// connection calls a Call from one strand at a time, so a Call needs no lock.
#ifndef VOXFLOW_SERVICES_GATEWAY_CALL_H_
#define VOXFLOW_SERVICES_GATEWAY_CALL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::gateway {

// WebSocket close codes the gateway sends (RFC 6455 section 7.4, and 4000 + a gRPC code when the
// orchestrator ended the conversation with an error). docs/API.md lists them.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;       // The gateway drains (a deploy).
inline constexpr uint16_t kCloseUnsupported = 1003;     // A frame of the wrong kind.
inline constexpr uint16_t kCloseInvalidPayload = 1007;  // Not JSON, bad base64, a bad config.
inline constexpr uint16_t kClosePolicy = 1008;          // Out of order (media before start), idle.
inline constexpr uint16_t kCloseTooBig = 1009;          // A frame over --max_frame_bytes.
inline constexpr uint16_t kCloseInternal = 1011;
inline constexpr uint16_t kCloseTryAgainLater = 1013;  // Slow reader, overload.
inline constexpr uint16_t kCloseGrpcBase = 4000;       // + the Converse stream's gRPC code.

class CallIo {
 public:
  virtual ~CallIo() = default;
  // Opens the Converse stream with `config` as its first request.
  virtual void StartConverse(v1::SessionConfig config) = 0;
  // Sends a request on it (dropped when it is not open).
  virtual void SendConverse(v1::ConverseRequest request) = 0;
  // Ends it from our side: the caller hung up.
  virtual void CancelConverse() = 0;
  // Frames to the caller's socket, in order.
  virtual void SendText(std::string text) = 0;
  virtual void SendBinary(std::string data) = 0;
  // Closes the socket (after the frames queued before) with a close code and a reason.
  virtual void Close(uint16_t code, std::string reason) = 0;
};

class Call {
 public:
  virtual ~Call() = default;
  // Frames from the caller.
  virtual void OnText(absl::string_view text) = 0;
  virtual void OnBinary(absl::string_view data) = 0;
  // An event of the Converse stream, in order.
  virtual void OnEvent(const v1::ConverseEvent& event) = 0;
  // The Converse stream ended with `status`.
  virtual void OnConverseEnd(const absl::Status& status) = 0;
};

// The close code and reason for a Converse stream that ended with `status`. A WebSocket close
// reason holds at most 123 bytes.
uint16_t CloseCodeFor(const absl::Status& status);
std::string CloseReason(absl::string_view text);

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_CALL_H_
