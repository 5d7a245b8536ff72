#include "services/orchestrator/llm/llm_metrics.h"

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "services/common/metrics.h"

namespace voxflow::orchestrator {
namespace {

struct Families {
  prometheus::Counter& requests = prometheus::BuildCounter()
                                      .Name("voxflow_llm_requests_total")
                                      .Help("Completions requested from model servers.")
                                      .Register(MetricsRegistry())
                                      .Add({});
  prometheus::Counter& connections =
      prometheus::BuildCounter()
          .Name("voxflow_llm_connections_opened_total")
          .Help("New connections to model servers (other requests reused a kept-alive one).")
          .Register(MetricsRegistry())
          .Add({});
  prometheus::Family<prometheus::Counter>& tokens =
      prometheus::BuildCounter()
          .Name("voxflow_llm_tokens_total")
          .Help("Tokens the model servers reported, by kind (prompt, completion).")
          .Register(MetricsRegistry());
  prometheus::Histogram& first_token =
      prometheus::BuildHistogram()
          .Name("voxflow_llm_first_token_seconds")
          .Help("The llm stage asking the model -> its first token.")
          .Register(MetricsRegistry())
          .Add({}, DurationBuckets());

  static Families& Get() {
    static auto* families = new Families();
    return *families;
  }
};

}  // namespace

void LlmMetrics::CountRequest(long new_connections) {
  Families& f = Families::Get();
  f.requests.Increment();
  if (new_connections > 0) f.connections.Increment(static_cast<double>(new_connections));
}

void LlmMetrics::CountTokens(const TokenUsage& usage) {
  Families& f = Families::Get();
  f.tokens.Add({{"kind", "prompt"}}).Increment(static_cast<double>(usage.prompt_tokens));
  f.tokens.Add({{"kind", "completion"}}).Increment(static_cast<double>(usage.completion_tokens));
}

void LlmMetrics::ObserveFirstToken(absl::Duration time_to_first_token) {
  Families::Get().first_token.Observe(absl::ToDoubleSeconds(time_to_first_token));
}

}  // namespace voxflow::orchestrator
