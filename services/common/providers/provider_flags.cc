#include "services/common/providers/provider_flags.h"

#include <algorithm>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/common/logging.h"
#include "services/common/security.h"

ABSL_FLAG(std::string, providers, "",
          "Providers in fallback order, e.g. openai,pocketsphinx (empty: the offline engine; "
          "--provider is the same flag, for one).");
ABSL_FLAG(std::string, openai_base_url, "",
          "The OpenAI-compatible audio server, e.g. http://127.0.0.1:8000/v1 (speaches), "
          "https://api.openai.com/v1. Setting it runs the openai provider.");
ABSL_FLAG(std::string, openai_model, "", "Its model (empty: whisper-1 / tts-1).");
ABSL_FLAG(std::string, openai_api_key_file, "",
          "A file holding its API key, sent as a bearer token (never logged).");
ABSL_FLAG(std::string, openai_ca_file, "",
          "HTTPS: a CA bundle (PEM) to trust instead of the system's.");
ABSL_FLAG(int, openai_timeout_ms, 2500,
          "Time the server may take to begin its answer before the next provider serves the "
          "caller (100..600000).");
ABSL_FLAG(int, openai_max_retries, 1,
          "Retries of a failed request (a 429 after its Retry-After, a 5xx or timeout) within "
          "1.5 s, before the next provider serves it.");
ABSL_FLAG(int, provider_breaker_failures, 3,
          "Consecutive failures after which a provider is skipped for the cool-down.");
ABSL_FLAG(int, provider_breaker_cooldown_ms, 30000,
          "How long a failing provider is skipped before one request probes it again.");

namespace voxflow {
namespace {

absl::Status Bad(absl::string_view flag, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", what));
}

}  // namespace

absl::StatusOr<ProviderSelection> SelectProviders(const ProviderFlags& flags,
                                                  const std::vector<std::string>& known,
                                                  absl::string_view offline,
                                                  absl::string_view default_model) {
  ProviderSelection selection;
  for (absl::string_view name : absl::StrSplit(flags.providers, ',', absl::SkipWhitespace())) {
    name = absl::StripAsciiWhitespace(name);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return Bad("providers", absl::StrCat(QuoteClientValue(name), " is not a provider here (",
                                           absl::StrJoin(known, ", "), ")"));
    }
    if (std::find(selection.providers.begin(), selection.providers.end(), name) !=
        selection.providers.end()) {
      return Bad("providers", absl::StrCat(QuoteClientValue(name), " is listed twice"));
    }
    selection.providers.emplace_back(name);
  }
  const bool has_openai = std::find(selection.providers.begin(), selection.providers.end(),
                                    "openai") != selection.providers.end();
  // The openai settings given, by flag name.
  std::vector<std::string> openai_settings;
  if (!flags.openai_base_url.empty()) openai_settings.push_back("--openai_base_url");
  if (!flags.openai_model.empty()) openai_settings.push_back("--openai_model");
  if (!flags.openai_api_key_file.empty()) openai_settings.push_back("--openai_api_key_file");
  if (!flags.openai_ca_file.empty()) openai_settings.push_back("--openai_ca_file");
  if (!has_openai && !openai_settings.empty()) {
    if (flags.providers_given) {
      return Bad("providers",
                 absl::StrCat(absl::StrJoin(openai_settings, ", "),
                              " configure the openai provider, which --providers=",
                              QuoteClientValue(flags.providers),
                              " does not run (add it, e.g. --providers=openai,", offline, ")"));
    }
    selection.providers = {"openai", std::string(offline)};
    selection.note = absl::StrCat(openai_settings.front(), " is set: providers openai, then ",
                                  offline, " as its fallback");
  }
  if (selection.providers.empty()) selection.providers = {std::string(offline)};
  if (std::find(selection.providers.begin(), selection.providers.end(), "openai") !=
      selection.providers.end()) {
    if (flags.openai_base_url.empty()) {
      return Bad("openai_base_url",
                 "the openai provider needs its server's URL, e.g. "
                 "http://127.0.0.1:8000/v1");
    }
    if (!absl::StartsWith(flags.openai_base_url, "http://") &&
        !absl::StartsWith(flags.openai_base_url, "https://")) {
      return Bad("openai_base_url", absl::StrCat(QuoteClientValue(flags.openai_base_url),
                                                 " is not an http:// or https:// URL"));
    }
    selection.openai.base_url = std::string(absl::StripSuffix(flags.openai_base_url, "/"));
    selection.openai.model =
        flags.openai_model.empty() ? std::string(default_model) : flags.openai_model;
    if (!flags.openai_api_key_file.empty()) {
      absl::StatusOr<std::string> key = ReadFileToString(flags.openai_api_key_file);
      if (!key.ok()) return Bad("openai_api_key_file", key.status().message());
      selection.openai.api_key = std::string(absl::StripAsciiWhitespace(*key));
      if (selection.openai.api_key.empty()) {
        return Bad("openai_api_key_file", absl::StrCat(flags.openai_api_key_file, " is empty"));
      }
    }
    selection.openai.ca_file = flags.openai_ca_file;
    if (flags.openai_timeout_ms < 100 || flags.openai_timeout_ms > 600000) {
      return Bad("openai_timeout_ms",
                 absl::StrCat(flags.openai_timeout_ms, " is not in 100..600000"));
    }
    selection.openai.first_byte_timeout = absl::Milliseconds(flags.openai_timeout_ms);
    if (flags.openai_max_retries < 0 || flags.openai_max_retries > 5) {
      return Bad("openai_max_retries", absl::StrCat(flags.openai_max_retries, " is not in 0..5"));
    }
    selection.openai.retry.max_retries = flags.openai_max_retries;
  }
  if (flags.breaker_failures < 1) {
    return Bad("provider_breaker_failures", absl::StrCat(flags.breaker_failures, " is below 1"));
  }
  if (flags.breaker_cooldown_ms < 0) {
    return Bad("provider_breaker_cooldown_ms",
               absl::StrCat(flags.breaker_cooldown_ms, " is negative"));
  }
  selection.breaker.failures_to_open = flags.breaker_failures;
  selection.breaker.cooldown = absl::Milliseconds(flags.breaker_cooldown_ms);
  return selection;
}

ProviderFlags ProviderFlagsFromCommandLine() {
  ProviderFlags flags;
  flags.providers = absl::GetFlag(FLAGS_providers);
  if (flags.providers.empty()) {
    if (const absl::CommandLineFlag* provider = absl::FindCommandLineFlag("provider")) {
      flags.providers = provider->CurrentValue();
    }
  }
  flags.providers_given = !flags.providers.empty();
  flags.openai_base_url = absl::GetFlag(FLAGS_openai_base_url);
  flags.openai_model = absl::GetFlag(FLAGS_openai_model);
  flags.openai_api_key_file = absl::GetFlag(FLAGS_openai_api_key_file);
  flags.openai_ca_file = absl::GetFlag(FLAGS_openai_ca_file);
  flags.openai_timeout_ms = absl::GetFlag(FLAGS_openai_timeout_ms);
  flags.openai_max_retries = absl::GetFlag(FLAGS_openai_max_retries);
  flags.breaker_failures = absl::GetFlag(FLAGS_provider_breaker_failures);
  flags.breaker_cooldown_ms = absl::GetFlag(FLAGS_provider_breaker_cooldown_ms);
  return flags;
}

}  // namespace voxflow
