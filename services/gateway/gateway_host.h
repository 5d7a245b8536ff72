// GatewayHost: what an HttpSession needs of the server that accepted its connection (the
// options, whether it drains, the orchestrator's channel, and the bookkeeping of WebSocket
// connections), so that the session never includes its owner. GatewayServer implements it.
#ifndef VOXFLOW_SERVICES_GATEWAY_GATEWAY_HOST_H_
#define VOXFLOW_SERVICES_GATEWAY_GATEWAY_HOST_H_

#include <memory>
#include <string>

#include "grpcpp/channel.h"
#include "services/gateway/gateway_options.h"
#include "services/gateway/websocket_connection.h"

namespace voxflow::gateway {

class GatewayHost {
 public:
  virtual ~GatewayHost() = default;
  virtual const GatewayOptions& options() const = 0;
  virtual bool draining() const = 0;
  virtual const std::shared_ptr<grpc::Channel>& orchestrator() const = 0;
  // Counts a WebSocket connection from `client`; false when it is over its limit.
  virtual bool Admit(const std::string& client) = 0;
  // What the connection calls when it is over (it was admitted for `client`).
  virtual WebSocketConnection::OnClosed ClosedCallback(const std::string& client) = 0;
  // The connection is live (for the drain).
  virtual void Register(const std::shared_ptr<WebSocketConnection>& connection) = 0;
};

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_GATEWAY_HOST_H_
