// Admission of streams (the orchestrator's are conversations) against a service's limits: all of
// them (--max_streams / --max_sessions), and per client (--max_streams_per_client), so that one
// caller cannot take every slot.
#ifndef VOXFLOW_SERVICES_COMMON_STREAM_LIMIT_H_
#define VOXFLOW_SERVICES_COMMON_STREAM_LIMIT_H_

#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"

namespace voxflow {

// Who a call comes from, for per-client limits: the bearer token it authenticated with when the
// server checks tokens (an opaque key, never the token), else the peer's address without its port
// (behind a proxy every caller shares the proxy's address: use tokens there).
std::string ClientKey(const grpc::CallbackServerContext& context);

class StreamLimit {
 public:
  // `max_per_client` 0: no per-client limit. `service` labels voxflow_active_streams and
  // voxflow_streams_refused_total.
  StreamLimit(int max_streams, int max_per_client, const std::string& service);

  // Counts a new stream of `client`: RESOURCE_EXHAUSTED saying which limit when it goes over one.
  // Every Admit(), refused or not, is matched by a Release() of the same client when the stream
  // is done.
  absl::Status Admit(const std::string& client);
  void Release(const std::string& client);
  int active() const;

 private:
  const int max_;
  const int max_per_client_;
  mutable std::mutex mu_;
  int active_ = 0;
  absl::flat_hash_map<std::string, int> per_client_;
  prometheus::Gauge& gauge_;
  prometheus::Counter& refused_total_;
  prometheus::Counter& refused_per_client_;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_STREAM_LIMIT_H_
