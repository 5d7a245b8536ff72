#include "services/common/http/sse_parser.h"

#include "absl/strings/match.h"

namespace voxflow {

std::vector<SseEvent> SseParser::Push(absl::string_view bytes) {
  std::vector<SseEvent> events;
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // "\r\n": one line end.
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      Line(line_, events);
      line_.clear();
      continue;
    }
    line_.push_back(c);
  }
  return events;
}

void SseParser::Line(absl::string_view line, std::vector<SseEvent>& out) {
  if (line.empty()) {  // The event is complete.
    if (has_data_) out.push_back(std::move(current_));
    current_ = SseEvent();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // A comment: keep-alive.
  absl::string_view field = line;
  absl::string_view value;
  if (const size_t colon = line.find(':'); colon != absl::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (absl::StartsWith(value, " ")) value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value.data(), value.size());
    has_data_ = true;
  } else if (field == "event") {
    current_.event = std::string(value);
  }
  // "id" and "retry" do not matter for a completion stream.
}

}  // namespace voxflow
