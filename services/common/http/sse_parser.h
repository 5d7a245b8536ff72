// Server-sent events (the text/event-stream format OpenAI-compatible servers stream completions
// in), parsed incrementally: bytes arrive in arbitrary pieces, an event ends at a blank line,
// "data:" lines of one event join with '\n', ':' lines are comments (keep-alives).
#ifndef VOXFLOW_SERVICES_COMMON_HTTP_SSE_PARSER_H_
#define VOXFLOW_SERVICES_COMMON_HTTP_SSE_PARSER_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace voxflow {

struct SseEvent {
  std::string event;  // The "event:" field; empty for the default ("message").
  std::string data;
};

class SseParser {
 public:
  // Takes the next bytes of the stream; returns the events they completed, in order.
  std::vector<SseEvent> Push(absl::string_view bytes);
  // Bytes held that are not yet a whole line (bounded by what the server sends in one line).
  size_t pending_bytes() const { return line_.size(); }

 private:
  void Line(absl::string_view line, std::vector<SseEvent>& out);

  std::string line_;  // A line not ended yet.
  SseEvent current_;
  bool has_data_ = false;
  bool after_cr_ = false;  // The last byte was '\r': a '\n' next belongs to it.
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_HTTP_SSE_PARSER_H_
