#include "services/orchestrator/session_events.h"

#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

const absl::Time kNow = absl::FromUnixMillis(1234567);

struct Sent {
  std::vector<v1::ConverseEvent> events;
  std::vector<absl::Status> ends;
};

SessionEvents EventsInto(Sent& sent) {
  return SessionEvents([&](v1::ConverseEvent event) { sent.events.push_back(std::move(event)); },
                       [&](const absl::Status& status) { sent.ends.push_back(status); },
                       [] { return kNow; });
}

TEST(SessionEventsTest, TelemetryGoesOutWhenAskedForAndTurnEventsAlways) {
  Sent sent;
  SessionEvents events = EventsInto(sent);
  events.SetSession("s-1", /*telemetry=*/false);
  events.SendTelemetry("stream.buffer_underrun", {{"buffer", "output"}});
  events.SendTelemetry("turn.interrupted", {{"turn_id", "3"}});
  ASSERT_EQ(sent.events.size(), 1u);
  const v1::TelemetryEvent& telemetry = sent.events[0].telemetry();
  EXPECT_EQ(telemetry.name(), "turn.interrupted");
  EXPECT_EQ(telemetry.attributes().at("turn_id"), "3");
  EXPECT_EQ(telemetry.timestamp_ms(), 1234567);

  events.SetSession("s-1", /*telemetry=*/true);
  events.SendTelemetry("stream.buffer_underrun", {{"buffer", "output"}});
  EXPECT_EQ(sent.events.size(), 2u);
}

TEST(SessionEventsTest, NothingGoesOutOnceClosed) {
  Sent sent;
  SessionEvents events = EventsInto(sent);
  events.Send(UserSpeechEvent(v1::UserSpeech::STARTED, 120, 1));
  events.End(absl::OkStatus());
  events.Close();
  events.Send(UserSpeechEvent(v1::UserSpeech::STOPPED, 900, 1));
  events.End(absl::CancelledError("late"));
  ASSERT_EQ(sent.events.size(), 1u);
  EXPECT_EQ(sent.events[0].user_speech().stream_ms(), 120);
  EXPECT_EQ(sent.events[0].user_speech().turn_id(), 1);
  ASSERT_EQ(sent.ends.size(), 1u);
  EXPECT_TRUE(sent.ends[0].ok());
}

TEST(SessionEventsTest, BuildsToolCallsAndRecoverableErrors) {
  v1::ConverseEvent call = ToolCallEvent(4, LlmToolCall{"call-1", "get_time", R"({"tz":"UTC"})"});
  EXPECT_EQ(call.tool_call().id(), "call-1");
  EXPECT_EQ(call.tool_call().name(), "get_time");
  EXPECT_EQ(call.tool_call().arguments_json(), R"({"tz":"UTC"})");
  EXPECT_EQ(call.tool_call().turn_id(), 4);
  v1::ConverseEvent error = RecoverableErrorEvent(absl::NotFoundError("tool_result.id 'x'"));
  EXPECT_EQ(error.error().code(), static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(error.error().message(), "tool_result.id 'x'");
  EXPECT_TRUE(error.error().recoverable());
}

}  // namespace
}  // namespace voxflow::orchestrator
