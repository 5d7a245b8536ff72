#include "services/orchestrator/llm/chat_completions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/common/logging.h"

namespace voxflow::orchestrator {

using Json = nlohmann::json;

namespace {

// A string member of `object`, or "" (absent, null or another type).
std::string StringOf(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t IntegerOf(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

Json ToolsJson(const std::vector<LlmTool>& tools) {
  Json list = Json::array();
  for (const LlmTool& tool : tools) {
    Json parameters = tool.parameters_json.empty()
                          ? Json{{"type", "object"}, {"properties", Json::object()}}
                          : Json::parse(tool.parameters_json, nullptr, false);
    if (parameters.is_discarded()) parameters = Json::object();  // Checked where declared.
    list.push_back(
        {{"type", "function"},
         {"function",
          {{"name", tool.name}, {"description", tool.description}, {"parameters", parameters}}}});
  }
  return list;
}

}  // namespace

std::string ChatCompletionRequestBody(const ChatSettings& settings, const LlmRequest& request,
                                      const std::vector<ToolRound>& rounds) {
  Json messages = Json::array();
  if (!settings.system_prompt.empty()) {
    messages.push_back({{"role", "system"}, {"content", settings.system_prompt}});
  }
  const size_t keep = static_cast<size_t>(std::max(0, settings.max_history_turns));
  const size_t first = request.history.size() > keep ? request.history.size() - keep : 0;
  for (size_t i = first; i < request.history.size(); ++i) {
    messages.push_back({{"role", "user"}, {"content", request.history[i].user}});
    messages.push_back({{"role", "assistant"}, {"content", request.history[i].reply}});
  }
  messages.push_back({{"role", "user"}, {"content", request.user_text}});
  for (const ToolRound& round : rounds) {
    Json calls = Json::array();
    for (const LlmToolCall& call : round.calls) {
      calls.push_back({{"id", call.id},
                       {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", call.arguments_json}}}});
    }
    Json assistant = {{"role", "assistant"}, {"tool_calls", calls}};
    assistant["content"] = round.content.empty() ? Json(nullptr) : Json(round.content);
    messages.push_back(std::move(assistant));
    for (size_t i = 0; i < round.calls.size() && i < round.answers.size(); ++i) {
      const LlmToolAnswer& answer = round.answers[i];
      const std::string content =
          answer.error.empty()
              ? answer.content_json
              : Json{{"error", answer.error}}.dump(-1, ' ', false, Json::error_handler_t::replace);
      messages.push_back(
          {{"role", "tool"}, {"tool_call_id", round.calls[i].id}, {"content", content}});
    }
  }
  Json body = {{"model", settings.model},
               {"messages", messages},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (settings.temperature.has_value()) body["temperature"] = *settings.temperature;
  if (settings.max_tokens.has_value()) body["max_tokens"] = *settings.max_tokens;
  if (!request.tools.empty()) body["tools"] = ToolsJson(request.tools);
  // Invalid UTF-8 in a transcript must not throw: replace it.
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::StatusOr<CompletionDelta> ParseCompletionEvent(const SseEvent& event) {
  CompletionDelta delta;
  if (event.data == "[DONE]") {
    delta.done = true;
    return delta;
  }
  const Json chunk = Json::parse(event.data, nullptr, /*allow_exceptions=*/false);
  if (chunk.is_discarded() || !chunk.is_object()) {
    return absl::InternalError(
        absl::StrCat("the model server sent malformed JSON: ", QuoteClientValue(event.data)));
  }
  if (auto error = chunk.find("error"); error != chunk.end()) {
    std::string message = "unknown error";
    if (error->is_object() && error->contains("message") && (*error)["message"].is_string()) {
      message = (*error)["message"].get<std::string>();
    }
    return absl::UnavailableError(
        absl::StrCat("the model server reported: ", QuoteClientValue(message, 200)));
  }
  if (auto choices = chunk.find("choices");
      choices != chunk.end() && choices->is_array() && !choices->empty()) {
    const Json& choice = (*choices)[0];
    if (auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
      delta.content = StringOf(*d, "content");
      if (auto calls = d->find("tool_calls"); calls != d->end() && calls->is_array()) {
        for (const Json& call : *calls) {
          if (!call.is_object()) continue;
          ToolCallDelta piece;
          piece.index = static_cast<int>(IntegerOf(call, "index"));
          piece.id = StringOf(call, "id");
          if (auto function = call.find("function");
              function != call.end() && function->is_object()) {
            piece.name = StringOf(*function, "name");
            piece.arguments = StringOf(*function, "arguments");
          }
          delta.tool_calls.push_back(std::move(piece));
        }
      }
    }
    delta.finish_reason = StringOf(choice, "finish_reason");
  }
  if (auto usage = chunk.find("usage"); usage != chunk.end() && usage->is_object()) {
    delta.usage =
        TokenUsage{IntegerOf(*usage, "prompt_tokens"), IntegerOf(*usage, "completion_tokens")};
  }
  return delta;
}

absl::Status ToolCallAssembler::Add(const ToolCallDelta& delta) {
  auto it = calls_.find(delta.index);
  if (it == calls_.end()) {
    if (delta.name.empty()) {
      return absl::InternalError(absl::StrCat("the model server streamed a piece of tool call ",
                                              delta.index, " before its name"));
    }
    if (calls_.size() >= 32) {
      return absl::InternalError("the model server streamed more than 32 tool calls");
    }
    it = calls_.emplace(delta.index, LlmToolCall{delta.id, delta.name, ""}).first;
  } else if (it->second.id.empty()) {
    it->second.id = delta.id;
  }
  it->second.arguments_json += delta.arguments;
  return absl::OkStatus();
}

std::vector<LlmToolCall> ToolCallAssembler::Take(int round) {
  std::vector<LlmToolCall> calls;
  for (auto& [index, call] : calls_) {
    if (call.id.empty()) call.id = absl::StrCat("call_", round, "_", index);
    calls.push_back(std::move(call));
  }
  calls_.clear();
  return calls;
}

}  // namespace voxflow::orchestrator
