// Process-wide logging on spdlog: human-readable text for a terminal, JSON lines for Kubernetes.
#ifndef VOXFLOW_SERVICES_COMMON_LOGGING_H_
#define VOXFLOW_SERVICES_COMMON_LOGGING_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "fmt/format.h"
#include "spdlog/formatter.h"

// Debian's Abseil has its own string_view type; let spdlog/fmt print it and absl::Status.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename Context>
  auto format(absl::string_view text, Context& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(text.data(), text.size()),
                                                    ctx);
  }
};

template <>
struct fmt::formatter<absl::Status> : fmt::formatter<fmt::string_view> {
  template <typename Context>
  auto format(const absl::Status& status, Context& ctx) const {
    const std::string text = status.ToString();
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(text), ctx);
  }
};

namespace voxflow {

enum class LogFormat { kText, kJson };

// Parses "text" or "json".
absl::Status ParseLogFormat(absl::string_view text, LogFormat* format);

// What a thread is working for: the session and turn that JSON log lines carry as "session_id"
// and "turn_id" (set with ScopedLogContext where a session's work starts on a thread).
struct LogContext {
  std::string session_id;
  int turn_id = 0;
};
const LogContext& CurrentLogContext();

// Sets the calling thread's LogContext for its lifetime, restoring the previous one after.
class ScopedLogContext {
 public:
  ScopedLogContext(std::string session_id, int turn_id);
  explicit ScopedLogContext(LogContext context);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  LogContext previous_;
};

// Formats each record as one JSON object per line:
//   {"ts":"2026-11-23T22:16:00.123456Z","level":"info","logger":"stt","thread":123,"msg":"..."}
// plus "session_id" and "turn_id" when the thread has a LogContext.
// The message is escaped, so any text (quotes, control characters) stays one valid JSON line.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

// Makes `name` the default logger, writing to stderr in `format` at `level` ("trace", "debug",
// "info", "warn", "error"). Returns INVALID_ARGUMENT for an unknown level.
absl::Status InitLogging(absl::string_view name, LogFormat format, absl::string_view level);

// A value a client sent, for an error message or a log line: in single quotes, control characters
// and quotes escaped (\xNN), at most `max_bytes` of it followed by "... (N bytes)". A client's
// string can then neither forge log lines nor blow up a status past gRPC's metadata limit.
std::string QuoteClientValue(absl::string_view value, size_t max_bytes = 64);

// Appends `text` to `out` as the body of a JSON string (without the quotes).
void AppendJsonEscaped(absl::string_view text, spdlog::memory_buf_t& out);

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_LOGGING_H_
