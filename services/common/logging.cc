#include "services/common/logging.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace voxflow {
namespace {

void Append(absl::string_view text, spdlog::memory_buf_t& out) {
  out.append(text.data(), text.data() + text.size());
}

}  // namespace

absl::Status ParseLogFormat(absl::string_view text, LogFormat* format) {
  if (text == "text") {
    *format = LogFormat::kText;
  } else if (text == "json") {
    *format = LogFormat::kJson;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log format '", text, "' (expected text or json)"));
  }
  return absl::OkStatus();
}

void AppendJsonEscaped(absl::string_view text, spdlog::memory_buf_t& out) {
  for (char c : text) {
    switch (c) {
      case '"':
        Append("\\\"", out);
        break;
      case '\\':
        Append("\\\\", out);
        break;
      case '\n':
        Append("\\n", out);
        break;
      case '\r':
        Append("\\r", out);
        break;
      case '\t':
        Append("\\t", out);
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned char>(c));
          Append(buf, out);
        } else {
          out.push_back(c);
        }
    }
  }
}

namespace {
thread_local LogContext current_log_context;
}  // namespace

const LogContext& CurrentLogContext() { return current_log_context; }

ScopedLogContext::ScopedLogContext(std::string session_id, int turn_id)
    : ScopedLogContext(LogContext{std::move(session_id), turn_id}) {}

ScopedLogContext::ScopedLogContext(LogContext context) : previous_(std::move(current_log_context)) {
  current_log_context = std::move(context);
}

ScopedLogContext::~ScopedLogContext() { current_log_context = std::move(previous_); }

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  const auto since_epoch = msg.time.time_since_epoch();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(msg.time);
  const long micros = static_cast<long>(duration_cast<microseconds>(since_epoch).count() % 1000000);
  std::tm utc;
  gmtime_r(&seconds, &utc);
  char ts[40];
  std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &utc);
  char frac[16];
  std::snprintf(frac, sizeof(frac), ".%06ldZ", micros);

  Append("{\"ts\":\"", dest);
  Append(ts, dest);
  Append(frac, dest);
  Append("\",\"level\":\"", dest);
  const auto level = spdlog::level::to_string_view(msg.level);
  Append(absl::string_view(level.data(), level.size()), dest);
  Append("\",\"logger\":\"", dest);
  AppendJsonEscaped(absl::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
  Append("\",\"thread\":", dest);
  Append(std::to_string(msg.thread_id), dest);
  if (const LogContext& context = current_log_context; !context.session_id.empty()) {
    Append(",\"session_id\":\"", dest);
    AppendJsonEscaped(context.session_id, dest);
    Append("\"", dest);
    if (context.turn_id > 0) {
      Append(",\"turn_id\":", dest);
      Append(std::to_string(context.turn_id), dest);
    }
  }
  Append(",\"msg\":\"", dest);
  AppendJsonEscaped(absl::string_view(msg.payload.data(), msg.payload.size()), dest);
  Append("\"}\n", dest);
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

absl::Status InitLogging(absl::string_view name, LogFormat format, absl::string_view level) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for anything it does not know; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown log level '", level, "' (expected trace, debug, info, warn, error or off)"));
  }
  auto logger = spdlog::stderr_color_mt(std::string(name));
  if (format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonLogFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%L%$ [%n] %v");
  }
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

std::string QuoteClientValue(absl::string_view value, size_t max_bytes) {
  std::string out = "'";
  const absl::string_view shown = value.substr(0, max_bytes);
  for (unsigned char c : shown) {
    if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('\'');
  if (shown.size() < value.size()) absl::StrAppend(&out, "... (", value.size(), " bytes)");
  return out;
}

}  // namespace voxflow
