// The check of a config's `provider` against what a server runs, shared by the STT and TTS
// engines and their fallback chains: one message, the client's value quoted and cut.
#ifndef VOXFLOW_SERVICES_COMMON_PROVIDERS_SERVED_PROVIDER_H_
#define VOXFLOW_SERVICES_COMMON_PROVIDERS_SERVED_PROVIDER_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "services/common/logging.h"

namespace voxflow {

// OK when `requested` is empty (the server's default) or one of `served`; INVALID_ARGUMENT naming
// config.provider otherwise.
inline absl::Status CheckServedProvider(absl::string_view requested,
                                        const std::vector<std::string>& served) {
  if (requested.empty() || std::find(served.begin(), served.end(), requested) != served.end()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("config.provider ", QuoteClientValue(requested),
                                                 " is not served here (this server runs ",
                                                 absl::StrJoin(served, ", "), ")"));
}

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_PROVIDERS_SERVED_PROVIDER_H_
