#include "services/orchestrator/llm_client.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace voxflow::orchestrator {

absl::StatusOr<RuleLlmClient::Options> RuleLlmClient::OptionsFromParameters(
    const std::map<std::string, std::string>& parameters) {
  Options options;
  for (const auto& [key, value] : parameters) {
    absl::string_view name = key;
    if (absl::ConsumePrefix(&name, "rule.")) {
      options.rules.emplace_back(absl::AsciiStrToLower(name), value);
    } else if (key == "default") {
      options.fallback = value;
    } else if (key == "token_delay_ms" || key == "first_token_delay_ms") {
      int ms = 0;
      if (!absl::SimpleAtoi(value, &ms) || ms < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "llm parameter ", key, " must be a non-negative integer, got '", value, "'"));
      }
      (key == "token_delay_ms" ? options.token_delay : options.first_token_delay) =
          absl::Milliseconds(ms);
    }
  }
  return options;
}

std::string RuleLlmClient::Reply(const LlmRequest& request) const {
  const std::string text = absl::AsciiStrToLower(request.user_text);
  std::string reply = options_.fallback;
  for (const auto& [words, answer] : options_.rules) {
    if (absl::StrContains(text, words)) {
      reply = answer;
      break;
    }
  }
  const std::string previous =
      request.history.empty() ? "nothing yet" : request.history.back().user;
  const std::string previous_reply =
      request.history.empty() ? "nothing yet" : request.history.back().reply;
  return absl::StrReplaceAll(reply, {{"{transcript}", request.user_text},
                                     {"{previous}", previous},
                                     {"{previous_reply}", previous_reply},
                                     {"{turn}", absl::StrCat(request.history.size() + 1)}});
}

absl::Status RuleLlmClient::Generate(const LlmRequest& request,
                                     const std::function<void(absl::string_view token)>& on_token,
                                     const CancellationToken& cancel) {
  const std::string reply = Reply(request);
  size_t start = 0;
  bool first = true;
  while (start < reply.size()) {
    size_t end = reply.find(' ', start);
    end = end == std::string::npos ? reply.size() : end + 1;
    const absl::Duration delay = first ? options_.first_token_delay : options_.token_delay;
    if (delay > absl::ZeroDuration() ? cancel.WaitFor(delay) : cancel.cancelled()) {
      return cancel.reason();
    }
    on_token(absl::string_view(reply).substr(start, end - start));
    first = false;
    start = end;
  }
  return absl::OkStatus();
}

std::vector<std::string> SentenceSplitter::Append(absl::string_view text) {
  absl::StrAppend(&pending_, text);
  std::vector<std::string> sentences;
  size_t from = 0;
  for (size_t i = 0; i + 1 < pending_.size(); ++i) {
    const char c = pending_[i];
    if ((c == '.' || c == '!' || c == '?') && absl::ascii_isspace(pending_[i + 1])) {
      std::string sentence(
          absl::StripAsciiWhitespace(absl::string_view(pending_).substr(from, i + 1 - from)));
      if (!sentence.empty()) sentences.push_back(std::move(sentence));
      from = i + 1;
    }
  }
  pending_.erase(0, from);
  return sentences;
}

std::string SentenceSplitter::Flush() {
  std::string rest(absl::StripAsciiWhitespace(pending_));
  pending_.clear();
  return rest;
}

}  // namespace voxflow::orchestrator
