#include "services/common/logging.h"

#include <string>

#include "gtest/gtest.h"
#include "spdlog/details/log_msg.h"

namespace voxflow {
namespace {

std::string Format(absl::string_view logger, spdlog::level::level_enum level,
                   absl::string_view text) {
  spdlog::details::log_msg msg(spdlog::string_view_t(logger.data(), logger.size()), level,
                               spdlog::string_view_t(text.data(), text.size()));
  msg.time = std::chrono::system_clock::time_point(std::chrono::microseconds(1700000000123456));
  msg.thread_id = 42;
  spdlog::memory_buf_t out;
  JsonLogFormatter().format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(JsonLogFormatterTest, OneObjectPerLine) {
  EXPECT_EQ(Format("stt", spdlog::level::info, "listening on 127.0.0.1:5"),
            "{\"ts\":\"2023-11-14T22:13:20.123456Z\",\"level\":\"info\",\"logger\":\"stt\","
            "\"thread\":42,\"msg\":\"listening on 127.0.0.1:5\"}\n");
}

TEST(JsonLogFormatterTest, EscapesTheMessage) {
  const std::string line = Format("tts", spdlog::level::warn, "say \"hi\"\n\\\x01");
  EXPECT_NE(line.find(R"("msg":"say \"hi\"\n\\\u0001")"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "exactly one newline, at the end";
}

TEST(JsonLogFormatterTest, CarriesTheSessionAndTurnOfTheThread) {
  {
    ScopedLogContext session("s-1", 0);
    EXPECT_NE(Format("orchestrator", spdlog::level::info, "started")
                  .find("\"thread\":42,\"session_id\":\"s-1\",\"msg\""),
              std::string::npos);
    {
      ScopedLogContext turn("s-1", 3);
      EXPECT_NE(Format("orchestrator", spdlog::level::info, "done")
                    .find("\"session_id\":\"s-1\",\"turn_id\":3,\"msg\":\"done\""),
                std::string::npos);
    }
    EXPECT_EQ(CurrentLogContext().turn_id, 0) << "restored";
  }
  EXPECT_EQ(Format("orchestrator", spdlog::level::info, "idle").find("session_id"),
            std::string::npos);
}

TEST(LoggingTest, ParsesFormats) {
  LogFormat format;
  EXPECT_TRUE(ParseLogFormat("json", &format).ok());
  EXPECT_EQ(format, LogFormat::kJson);
  EXPECT_TRUE(ParseLogFormat("text", &format).ok());
  EXPECT_EQ(format, LogFormat::kText);
  EXPECT_EQ(ParseLogFormat("xml", &format),
            absl::InvalidArgumentError("unknown log format 'xml' (expected text or json)"));
}

TEST(LoggingTest, RejectsUnknownLevel) {
  EXPECT_EQ(InitLogging("a", LogFormat::kText, "loud").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(InitLogging("b", LogFormat::kJson, "debug").ok());
}

TEST(QuoteClientValueTest, EscapesControlCharactersAndTruncates) {
  EXPECT_EQ(QuoteClientValue("en-US"), "'en-US'");
  // An ANSI escape and a forged log line stay on one inert line.
  EXPECT_EQ(QuoteClientValue("a\x1b[31m\nI fake"), "'a\\x1b[31m\\x0aI fake'");
  EXPECT_EQ(QuoteClientValue("it's"), "'it\\x27s'");
  EXPECT_EQ(QuoteClientValue(std::string(100, 'x'), 4), "'xxxx'... (100 bytes)");
}

}  // namespace
}  // namespace voxflow
