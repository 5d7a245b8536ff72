#include "services/orchestrator/llm/chat_completions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/common/logging.h"

namespace voxflow::orchestrator {

using Json = nlohmann::json;

std::string ChatCompletionRequestBody(const ChatSettings& settings, const LlmRequest& request) {
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
  Json body = {{"model", settings.model},
               {"messages", messages},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (settings.temperature.has_value()) body["temperature"] = *settings.temperature;
  if (settings.max_tokens.has_value()) body["max_tokens"] = *settings.max_tokens;
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
      if (auto content = d->find("content"); content != d->end() && content->is_string()) {
        delta.content = content->get<std::string>();
      }
    }
    if (auto finish = choice.find("finish_reason"); finish != choice.end() && finish->is_string()) {
      delta.finish_reason = finish->get<std::string>();
    }
  }
  if (auto usage = chunk.find("usage"); usage != chunk.end() && usage->is_object()) {
    TokenUsage tokens;
    tokens.prompt_tokens = usage->value("prompt_tokens", int64_t{0});
    tokens.completion_tokens = usage->value("completion_tokens", int64_t{0});
    delta.usage = tokens;
  }
  return delta;
}

}  // namespace voxflow::orchestrator
