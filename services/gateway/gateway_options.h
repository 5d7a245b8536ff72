// What the gateway is told at start-up (main.cc fills it from flags).
#ifndef VOXFLOW_SERVICES_GATEWAY_GATEWAY_OPTIONS_H_
#define VOXFLOW_SERVICES_GATEWAY_GATEWAY_OPTIONS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/time/time.h"

namespace voxflow::gateway {

struct GatewayOptions {
  std::string host = "127.0.0.1";
  int port = 0;     // HTTP and WebSocket; 0 picks a free one.
  int threads = 0;  // I/O threads (0: the number of cores).
  // Largest WebSocket message accepted (close 1009 beyond it), and HTTP header bytes.
  size_t max_frame_bytes = 64 * 1024;
  size_t max_header_bytes = 8 * 1024;
  // A connection that sends nothing for this long is closed (1008).
  absl::Duration idle_timeout = absl::Seconds(30);
  // Time a client gets to send its HTTP request (upgrade included).
  absl::Duration request_timeout = absl::Seconds(10);
  // Frames waiting for a caller who does not read, in bytes: past it the call ends (1008), as
  // the orchestrator ends its own slow readers.
  size_t max_queued_bytes = 1 << 20;
  // The kernel's send buffer of each connection (SO_SNDBUF; 0: the kernel's autotuning, which
  // on a fast path grows to megabytes: seconds of stale audio held for a slow caller).
  int socket_send_buffer_bytes = 64 * 1024;
  // WebSocket connections one client address may hold at once (0: no limit).
  int max_connections_per_client = 20;
  // /v1/converse: browser origins allowed to connect. Empty: the gateway's own origin only (the
  // page it serves); "*": any. Connections without an Origin header (not a browser) are allowed.
  std::vector<std::string> allowed_origins;
  // /v1/converse: accepted bearer tokens (Authorization header, or ?token= for browsers). Empty
  // set: no token needed.
  std::unordered_set<std::string> auth_tokens;
  // /twilio: Twilio's auth token; set: X-Twilio-Signature is required and checked.
  std::optional<std::string> twilio_auth_token;
  // The URL Twilio connects to, as Twilio sees it (scheme and host), e.g. wss://voice.example.com;
  // empty: wss:// and the request's Host header.
  std::string public_url;
  // In-flight calls get this long after a drain begins, then are closed with 1001.
  absl::Duration drain_timeout = absl::Seconds(120);
};

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_GATEWAY_OPTIONS_H_
