#include "services/orchestrator/session_requests.h"

#include <string>

#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

v1::ConverseRequest Audio() {
  v1::ConverseRequest request;
  request.mutable_audio()->set_data("x");
  return request;
}

TEST(SessionRequestsTest, AConfigComesFirstAndOnlyOnce) {
  v1::ConverseRequest config;
  config.mutable_config();
  EXPECT_TRUE(CheckRequestOrder(config, /*configured=*/false).ok());
  absl::Status twice = CheckRequestOrder(config, /*configured=*/true);
  EXPECT_EQ(twice.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(twice.message().find("config sent twice"), std::string::npos);

  absl::Status early = CheckRequestOrder(Audio(), /*configured=*/false);
  EXPECT_EQ(early.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(early.message().rfind("audio before config", 0), 0u) << early.message();
  EXPECT_TRUE(CheckRequestOrder(Audio(), /*configured=*/true).ok());

  absl::Status empty = CheckRequestOrder(v1::ConverseRequest(), /*configured=*/true);
  EXPECT_NE(empty.message().find("empty request"), std::string::npos);
}

TEST(SessionRequestsTest, ControlIsEndOfInputOrInterrupt) {
  v1::Control control;
  control.set_type(v1::Control::INTERRUPT);
  EXPECT_TRUE(CheckControl(control).ok());
  control.set_type(static_cast<v1::Control::Type>(7));
  absl::Status bad = CheckControl(control);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("control.type"), std::string::npos);
  EXPECT_NE(bad.message().find("got 7"), std::string::npos);
}

TEST(SessionRequestsTest, TypedTextIsTrimmedAndBounded) {
  v1::TextInput text;
  text.set_text("  what time is it \n");
  EXPECT_EQ(*TypedText(text), "what time is it");
  text.set_text("   ");
  EXPECT_EQ(TypedText(text).status().message(), "text.text is empty");
  text.set_text(std::string(10001, 'a'));
  EXPECT_EQ(TypedText(text).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SessionRequestsTest, DtmfBecomesWhatTheModelIsTold) {
  v1::Dtmf dtmf;
  dtmf.set_digits("42#");
  EXPECT_EQ(DtmfText(dtmf), "The caller pressed 42# on the keypad.");
}

}  // namespace
}  // namespace voxflow::orchestrator
