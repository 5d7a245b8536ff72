#include "services/orchestrator/llm/tool_declarations.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/common/logging.h"

namespace voxflow::orchestrator {
namespace {

using Json = nlohmann::json;

bool IsToolName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::Status CheckTool(const LlmTool& tool, absl::string_view field) {
  if (!IsToolName(tool.name)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".name ", QuoteClientValue(tool.name), " is not [A-Za-z0-9_-]{1,64}"));
  }
  if (tool.description.size() > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".description of ", tool.description.size(), " bytes is longer than 1024"));
  }
  if (!tool.parameters_json.empty()) {
    const Json schema = Json::parse(tool.parameters_json, nullptr, false);
    if (schema.is_discarded() || !schema.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field,
          ".parameters_json is not a JSON object: ", QuoteClientValue(tool.parameters_json)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LlmTool>> DeclaredTools(
    const std::map<std::string, std::string>& parameters, const v1::LlmSettings& session) {
  std::vector<LlmTool> tools;
  if (auto it = parameters.find("tools"); it != parameters.end() && !it->second.empty()) {
    const Json list = Json::parse(it->second, nullptr, false);
    if (list.is_discarded() || !list.is_array()) {
      return absl::InvalidArgumentError("llm parameter tools: is not a JSON array");
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string field = absl::StrCat("llm parameter tools[", i, "]");
      const Json& entry = list[i];
      if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(field, ": needs a string \"name\""));
      }
      LlmTool tool;
      tool.name = entry["name"].get<std::string>();
      if (entry.contains("description") && entry["description"].is_string()) {
        tool.description = entry["description"].get<std::string>();
      }
      if (entry.contains("parameters")) tool.parameters_json = entry["parameters"].dump();
      if (absl::Status s = CheckTool(tool, field); !s.ok()) return s;
      tools.push_back(std::move(tool));
    }
  }
  for (int i = 0; i < session.tools_size(); ++i) {
    const v1::ToolSpec& spec = session.tools(i);
    LlmTool tool{spec.name(), spec.description(), spec.parameters_json()};
    if (absl::Status s = CheckTool(tool, absl::StrCat("config.llm.tools[", i, "]")); !s.ok()) {
      return s;
    }
    std::erase_if(tools, [&](const LlmTool& t) { return t.name == tool.name; });
    tools.push_back(std::move(tool));
  }
  if (tools.size() > kMaxTools) {
    return absl::InvalidArgumentError(
        absl::StrCat(tools.size(), " tools declared; at most ", kMaxTools));
  }
  return tools;
}

bool IsJson(absl::string_view text) {
  return !Json::parse(text.begin(), text.end(), nullptr, false).is_discarded();
}

absl::StatusOr<absl::Duration> ToolTimeout(const std::map<std::string, std::string>& parameters,
                                           const v1::LlmSettings& session) {
  auto in_range = [](int64_t ms) { return ms >= 100 && ms <= 120000; };
  if (session.tool_timeout_ms() != 0) {
    if (!in_range(session.tool_timeout_ms())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config.llm.tool_timeout_ms ", session.tool_timeout_ms(), " is not in 100..120000"));
    }
    return absl::Milliseconds(session.tool_timeout_ms());
  }
  int64_t ms = 10000;
  if (auto it = parameters.find("tool_timeout_ms"); it != parameters.end() && !it->second.empty()) {
    if (!absl::SimpleAtoi(it->second, &ms) || !in_range(ms)) {
      return absl::InvalidArgumentError(
          absl::StrCat("llm parameter tool_timeout_ms: ", QuoteClientValue(it->second),
                       " is not in 100..120000"));
    }
  }
  return absl::Milliseconds(ms);
}

}  // namespace voxflow::orchestrator
