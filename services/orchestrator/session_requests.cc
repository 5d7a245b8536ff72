#include "services/orchestrator/session_requests.h"

#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/common/utf8.h"
#include "services/orchestrator/llm/tool_declarations.h"

namespace voxflow::orchestrator {

const char* RequestName(const v1::ConverseRequest& request) {
  switch (request.request_case()) {
    case v1::ConverseRequest::kConfig:
      return "config";
    case v1::ConverseRequest::kAudio:
      return "audio";
    case v1::ConverseRequest::kText:
      return "text";
    case v1::ConverseRequest::kToolResult:
      return "tool_result";
    case v1::ConverseRequest::kPlayback:
      return "playback";
    case v1::ConverseRequest::kDtmf:
      return "dtmf";
    default:
      return "control";
  }
}

absl::Status CheckRequestOrder(const v1::ConverseRequest& request, bool configured) {
  if (request.request_case() == v1::ConverseRequest::REQUEST_NOT_SET) {
    return absl::InvalidArgumentError("empty request: set config, audio, text or control");
  }
  const bool config = request.request_case() == v1::ConverseRequest::kConfig;
  if (config && configured) {
    return absl::InvalidArgumentError(
        "config sent twice: only the first request may be a SessionConfig");
  }
  if (!config && !configured) {
    return absl::InvalidArgumentError(absl::StrCat(
        RequestName(request), " before config: the first request must be a SessionConfig"));
  }
  return absl::OkStatus();
}

absl::Status CheckControl(const v1::Control& control) {
  if (control.type() == v1::Control::END_OF_INPUT || control.type() == v1::Control::INTERRUPT) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("control.type must be END_OF_INPUT (1) or INTERRUPT (2), got ",
                   static_cast<int>(control.type())));
}

std::string DtmfText(const v1::Dtmf& dtmf) {
  return absl::StrCat("The caller pressed ", dtmf.digits(), " on the keypad.");
}

absl::StatusOr<std::string> TypedText(const v1::TextInput& input) {
  std::string text(absl::StripAsciiWhitespace(input.text()));
  if (text.empty()) return absl::InvalidArgumentError("text.text is empty");
  if (absl::Status s = CheckUtf8(text, "text.text"); !s.ok()) return s;
  if (text.size() > 10000) {
    return absl::InvalidArgumentError("text.text is longer than 10000 bytes");
  }
  return text;
}

absl::Status CheckPlayback(const v1::PlaybackProgress& playback) {
  if (playback.turn_id() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "playback.turn_id must name a turn of this session (> 0), got ", playback.turn_id()));
  }
  if (playback.played_ms() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("playback.played_ms must be >= 0, got ", playback.played_ms()));
  }
  return absl::OkStatus();
}

absl::Status CheckDtmf(const v1::Dtmf& dtmf) {
  const std::string& digits = dtmf.digits();
  if (digits.empty() || digits.size() > 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("dtmf.digits must hold 1..32 digits, got ", digits.size()));
  }
  for (size_t i = 0; i < digits.size(); ++i) {
    if (!absl::ascii_isdigit(digits[i]) &&
        std::string_view("*#ABCD").find(digits[i]) == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dtmf.digits: byte ", i, " is not one of 0-9 * # A-D (", QuoteClientValue(digits), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LlmToolAnswer> ToolAnswer(const v1::ToolResult& result) {
  if (result.id().empty()) return absl::InvalidArgumentError("tool_result.id is empty");
  if (result.id().size() > 256) {
    return absl::InvalidArgumentError("tool_result.id is longer than 256 bytes");
  }
  LlmToolAnswer answer;
  switch (result.result_case()) {
    case v1::ToolResult::kContentJson:
      if (result.content_json().size() > 64 * 1024) {
        return absl::InvalidArgumentError(absl::StrCat("tool_result.content_json of ",
                                                       result.content_json().size(),
                                                       " bytes is longer than 65536"));
      }
      if (!IsJson(result.content_json())) {
        return absl::InvalidArgumentError(absl::StrCat("tool_result.content_json is not JSON: ",
                                                       QuoteClientValue(result.content_json())));
      }
      answer.content_json = result.content_json();
      break;
    case v1::ToolResult::kError:
      if (result.error().size() > 4096) {
        return absl::InvalidArgumentError("tool_result.error is longer than 4096 bytes");
      }
      answer.error = result.error().empty() ? "the tool failed" : result.error();
      break;
    default:
      return absl::InvalidArgumentError("tool_result sets neither content_json nor error");
  }
  return answer;
}

}  // namespace voxflow::orchestrator
