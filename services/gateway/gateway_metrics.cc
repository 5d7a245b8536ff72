#include "services/gateway/gateway_metrics.h"

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "services/common/metrics.h"

namespace voxflow::gateway {
namespace {

prometheus::Family<prometheus::Counter>& Connections() {
  static auto& family = prometheus::BuildCounter()
                            .Name("voxflow_gateway_connections_total")
                            .Help("WebSocket connections accepted, by kind (twilio, browser).")
                            .Register(MetricsRegistry());
  return family;
}

prometheus::Family<prometheus::Gauge>& OpenConnections() {
  static auto& family = prometheus::BuildGauge()
                            .Name("voxflow_gateway_connections")
                            .Help("WebSocket connections open now, by kind.")
                            .Register(MetricsRegistry());
  return family;
}

prometheus::Gauge& Bridged() {
  static auto& gauge = prometheus::BuildGauge()
                           .Name("voxflow_gateway_bridged_sessions")
                           .Help("Converse streams the gateway has open now.")
                           .Register(MetricsRegistry())
                           .Add({});
  return gauge;
}

prometheus::Family<prometheus::Counter>& Bytes() {
  static auto& family = prometheus::BuildCounter()
                            .Name("voxflow_gateway_bytes_total")
                            .Help("WebSocket payload bytes, by direction (in, out).")
                            .Register(MetricsRegistry());
  return family;
}

prometheus::Family<prometheus::Counter>& Closes() {
  static auto& family = prometheus::BuildCounter()
                            .Name("voxflow_gateway_closes_total")
                            .Help("WebSocket connections closed, by close code.")
                            .Register(MetricsRegistry());
  return family;
}

prometheus::Family<prometheus::Counter>& RefusedFamily() {
  static auto& family = prometheus::BuildCounter()
                            .Name("voxflow_gateway_refused_total")
                            .Help("Connections refused before the WebSocket upgrade, by reason.")
                            .Register(MetricsRegistry());
  return family;
}

prometheus::Family<prometheus::Histogram>& VoiceToVoiceFamily() {
  static auto& family =
      prometheus::BuildHistogram()
          .Name("voxflow_gateway_voice_to_voice_seconds")
          .Help("The caller's last voiced audio in -> the first reply audio out, at the gateway.")
          .Register(MetricsRegistry());
  return family;
}

}  // namespace

void GatewayMetrics::ConnectionOpened(const std::string& kind) {
  Connections().Add({{"kind", kind}}).Increment();
  OpenConnections().Add({{"kind", kind}}).Increment();
}

void GatewayMetrics::ConnectionClosed(const std::string& kind, uint16_t code) {
  OpenConnections().Add({{"kind", kind}}).Decrement();
  Closes().Add({{"code", std::to_string(code)}}).Increment();
}

void GatewayMetrics::SessionBridged(int delta) { Bridged().Increment(delta); }
void GatewayMetrics::BytesIn(size_t bytes) {
  Bytes().Add({{"direction", "in"}}).Increment(static_cast<double>(bytes));
}
void GatewayMetrics::BytesOut(size_t bytes) {
  Bytes().Add({{"direction", "out"}}).Increment(static_cast<double>(bytes));
}
void GatewayMetrics::Refused(const std::string& reason) {
  RefusedFamily().Add({{"reason", reason}}).Increment();
}
void GatewayMetrics::VoiceToVoice(const std::string& kind, absl::Duration waited) {
  VoiceToVoiceFamily()
      .Add({{"kind", kind}}, DurationBuckets())
      .Observe(absl::ToDoubleSeconds(waited));
}

}  // namespace voxflow::gateway
