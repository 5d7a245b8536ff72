// The command line of the STT and TTS services' providers: which run, in which order
// (--providers=openai,pocketsphinx), where the OpenAI-compatible server is and how long it may
// take, and the circuit breaker. Settings of a provider given without choosing it choose it
// (ahead of the offline engine, which stays as the fallback) — unless --providers was given
// without it, which is a mistake to stop on, naming the flag.
#ifndef VOXFLOW_SERVICES_COMMON_PROVIDERS_PROVIDER_FLAGS_H_
#define VOXFLOW_SERVICES_COMMON_PROVIDERS_PROVIDER_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/providers/circuit_breaker.h"
#include "services/common/providers/remote_request.h"

namespace voxflow {

struct ProviderFlags {
  std::string providers;  // Comma-separated.
  bool providers_given = false;
  std::string openai_base_url;
  std::string openai_model;
  std::string openai_api_key_file;
  std::string openai_ca_file;
  int openai_timeout_ms = 2500;
  int openai_max_retries = 1;
  int breaker_failures = 3;
  int breaker_cooldown_ms = 30000;
};

struct ProviderSelection {
  std::vector<std::string> providers;  // In fallback order.
  RemoteServerOptions openai;          // When "openai" is one of them.
  BreakerOptions breaker;
  std::string note;  // What was chosen for the user, when not what they wrote.
};

// `known`: the providers the service has; `offline`: its default (the fallback of a remote
// one); `default_model`: the openai model when none is given. INVALID_ARGUMENT naming the flag.
absl::StatusOr<ProviderSelection> SelectProviders(const ProviderFlags& flags,
                                                  const std::vector<std::string>& known,
                                                  absl::string_view offline,
                                                  absl::string_view default_model);

// The process's flags (--providers, or the older --provider; --openai_*; --provider_breaker_*).
ProviderFlags ProviderFlagsFromCommandLine();

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_PROVIDERS_PROVIDER_FLAGS_H_
