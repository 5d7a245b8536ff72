#include "services/orchestrator/llm/llm_provider.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/logging.h"
#include "services/common/security.h"
#include "services/orchestrator/llm/tool_declarations.h"

namespace voxflow::orchestrator {
namespace {

std::string Get(const std::map<std::string, std::string>& parameters, const std::string& key) {
  auto it = parameters.find(key);
  return it == parameters.end() ? "" : it->second;
}

absl::Status Bad(const std::string& key, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("llm parameter ", key, ": ", why));
}

// The key in `path`, read again only when the file changed (a rotated key is picked up on the
// next turn without a read per turn).
absl::StatusOr<std::string> CachedKeyFile(const std::string& path) {
  struct Entry {
    struct timespec modified = {};
    off_t size = -1;
    std::string key;
  };
  static std::mutex mu;
  static auto* cache = new std::map<std::string, Entry>();
  struct stat info = {};
  if (stat(path.c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(path);
    if (it != cache->end() && it->second.size == info.st_size &&
        it->second.modified.tv_sec == info.st_mtim.tv_sec &&
        it->second.modified.tv_nsec == info.st_mtim.tv_nsec) {
      return it->second.key;
    }
  }
  absl::StatusOr<std::string> contents = ReadFileToString(path);
  if (!contents.ok()) return contents.status();
  std::string key(absl::StripAsciiWhitespace(*contents));
  std::lock_guard<std::mutex> lock(mu);
  (*cache)[path] = Entry{info.st_mtim, info.st_size, key};
  return key;
}

}  // namespace

absl::StatusOr<OpenAiOptions> OpenAiOptionsFromParameters(
    const std::map<std::string, std::string>& parameters) {
  OpenAiOptions options;
  options.base_url = Get(parameters, "base_url");
  while (!options.base_url.empty() && options.base_url.back() == '/') options.base_url.pop_back();
  if (options.base_url.empty()) return Bad("base_url", "is required for provider openai");
  options.chat.model = Get(parameters, "model");
  if (options.chat.model.empty()) return Bad("model", "is required for provider openai");
  options.chat.system_prompt = Get(parameters, "system_prompt");
  options.ca_file = Get(parameters, "ca_file");
  if (!options.ca_file.empty() && access(options.ca_file.c_str(), R_OK) != 0) {
    return Bad("ca_file", absl::StrCat("cannot read ", QuoteClientValue(options.ca_file), ": ",
                                       std::strerror(errno)));
  }
  if (const std::string file = Get(parameters, "api_key_file"); !file.empty()) {
    absl::StatusOr<std::string> key = CachedKeyFile(file);
    if (!key.ok()) return Bad("api_key_file", std::string(key.status().message()));
    options.api_key = *std::move(key);
  } else if (const std::string env = Get(parameters, "api_key_env"); !env.empty()) {
    const char* key = std::getenv(env.c_str());
    if (key == nullptr)
      return Bad("api_key_env", absl::StrCat(QuoteClientValue(env), " is not set"));
    options.api_key = std::string(absl::StripAsciiWhitespace(key));
  }
  if (const std::string t = Get(parameters, "temperature"); !t.empty()) {
    double temperature = 0;
    if (!absl::SimpleAtod(t, &temperature) || temperature < 0 || temperature > 2) {
      return Bad("temperature", absl::StrCat(QuoteClientValue(t), " is not in 0..2"));
    }
    options.chat.temperature = temperature;
  }
  auto positive = [&](const std::string& key, int* out) -> absl::Status {
    const std::string value = Get(parameters, key);
    if (value.empty()) return absl::OkStatus();
    if (!absl::SimpleAtoi(value, out) || *out <= 0) {
      return Bad(key, absl::StrCat(QuoteClientValue(value), " is not a positive integer"));
    }
    return absl::OkStatus();
  };
  int max_tokens = 0, timeout_ms = 30000, history = options.chat.max_history_turns;
  for (const absl::Status& s :
       {positive("max_tokens", &max_tokens), positive("timeout_ms", &timeout_ms),
        positive("max_history_turns", &history)}) {
    if (!s.ok()) return s;
  }
  if (max_tokens > 0) options.chat.max_tokens = max_tokens;
  options.timeout = absl::Milliseconds(timeout_ms);
  options.chat.max_history_turns = history;
  return options;
}

absl::StatusOr<std::string> ChooseLlmProvider(const std::map<std::string, std::string>& flags,
                                              std::string* note) {
  std::vector<std::string> openai_settings;
  for (const char* name : {"base_url", "model", "api_key_file", "ca_file"}) {
    auto it = flags.find(name);
    if (it != flags.end() && !it->second.empty()) {
      openai_settings.push_back(absl::StrCat("--llm_", name));
    }
  }
  auto provider = flags.find("provider");
  const std::string chosen = provider == flags.end() ? "" : provider->second;
  if (!chosen.empty()) {
    if (chosen == "rule" && !openai_settings.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          absl::StrJoin(openai_settings, ", "),
          " configure the openai provider, but --llm_provider=rule (the built-in rule model) "
          "reads none of them: drop them or use --llm_provider=openai"));
    }
    return chosen;
  }
  if (openai_settings.empty()) return std::string();
  if (note != nullptr) {
    *note = absl::StrCat(openai_settings.front(), " is set: --llm_provider=openai");
  }
  return std::string("openai");
}

absl::Status ApplyLlmDefaults(const std::map<std::string, std::string>& defaults,
                              std::vector<v1::PipelineSpec>& specs) {
  for (v1::PipelineSpec& spec : specs) {
    for (v1::StageSpec& stage : *spec.mutable_stages()) {
      if (stage.type() != "llm") continue;
      auto* parameters = stage.mutable_parameters();
      if (!parameters->contains("provider")) {
        for (const auto& [key, value] : defaults) {
          if (!value.empty() && !parameters->contains(key)) (*parameters)[key] = value;
        }
      }
      const std::map<std::string, std::string> chosen(parameters->begin(), parameters->end());
      absl::Status status = MakeLlmClient(chosen).status();
      if (status.ok()) status = DeclaredTools(chosen, v1::LlmSettings()).status();
      if (status.ok()) status = ToolTimeout(chosen, v1::LlmSettings()).status();
      if (!status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("pipeline ", spec.name(), ", stage ",
                                                       stage.name(), ": ", status.message()));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LlmClient>> MakeLlmClient(
    const std::map<std::string, std::string>& parameters) {
  const std::string provider = Get(parameters, "provider");
  if (provider.empty() || provider == "rule") {
    absl::StatusOr<RuleLlmClient::Options> options =
        RuleLlmClient::OptionsFromParameters(parameters);
    if (!options.ok()) return options.status();
    return std::unique_ptr<LlmClient>(new RuleLlmClient(*std::move(options)));
  }
  if (provider == "openai") {
    absl::StatusOr<OpenAiOptions> options = OpenAiOptionsFromParameters(parameters);
    if (!options.ok()) return options.status();
    return std::unique_ptr<LlmClient>(new OpenAiLlmClient(*std::move(options)));
  }
  return Bad("provider", absl::StrCat(QuoteClientValue(provider), " is not rule or openai"));
}

}  // namespace voxflow::orchestrator
