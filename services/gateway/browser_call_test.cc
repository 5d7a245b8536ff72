#include "services/gateway/browser_call.h"

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/gateway/testing/fake_call_io.h"

namespace voxflow::gateway {
namespace {

using Json = nlohmann::json;
using testing::FakeCallIo;

constexpr char kConfig[] = R"({"inputFormat": {"format": "PCM16", "sampleRate": 16000,
    "channels": 1}, "outputFormat": {"format": "PCM16", "sampleRate": 16000, "channels": 1},
    "interimResults": true, "pipeline": "voice_chat"})";

class BrowserCallTest : public ::testing::Test {
 protected:
  FakeCallIo io_;
  absl::Time now_ = absl::UnixEpoch();
  VoiceClock clock_{[this] { return now_; }};
  BrowserCall call_{io_, clock_};
};

TEST_F(BrowserCallTest, TheFirstTextFrameIsTheConfigAndBinaryFramesAreAudio) {
  call_.OnText(kConfig);
  ASSERT_TRUE(io_.config().has_value());
  EXPECT_EQ(io_.config()->input_format().sample_rate(), 16000);
  EXPECT_TRUE(io_.config()->interim_results());
  call_.OnBinary(std::string(640, '\0'));
  call_.OnBinary(std::string(640, '\0'));
  ASSERT_EQ(io_.requests().size(), 2u);
  EXPECT_EQ(io_.requests()[1].audio().sequence(), 1u);
  EXPECT_EQ(io_.requests()[1].audio().timestamp_ms(), 20);
  EXPECT_EQ(io_.requests()[1].audio().format(), v1::PCM16);
  call_.OnText(R"({"control": {"type": "INTERRUPT"}})");
  call_.OnText(R"({"playback": {"turnId": 2, "playedMs": 480}})");
  ASSERT_EQ(io_.requests().size(), 4u);
  EXPECT_EQ(io_.requests()[2].control().type(), v1::Control::INTERRUPT);
  EXPECT_EQ(io_.requests()[3].playback().played_ms(), 480);
}

TEST_F(BrowserCallTest, EventsAreJsonAndReplyAudioIsBinaryAfterItsHeader) {
  call_.OnText(kConfig);
  v1::ConverseEvent text;
  text.mutable_reply_text()->set_text("Hi.");
  text.mutable_reply_text()->set_turn_id(1);
  call_.OnEvent(text);
  v1::ConverseEvent audio;
  audio.mutable_reply_audio()->set_turn_id(1);
  audio.mutable_reply_audio()->set_text("Hi.");
  audio.mutable_reply_audio()->mutable_audio()->set_data(std::string(640, '\x01'));
  call_.OnEvent(audio);
  call_.OnEvent(audio);
  ASSERT_EQ(io_.frames().size(), 4u);
  EXPECT_EQ(Json::parse(io_.frames()[0].data)["replyText"]["text"], "Hi.");
  const Json header = Json::parse(io_.frames()[1].data);
  EXPECT_EQ(header["replyAudio"]["turnId"], 1);
  EXPECT_FALSE(header["replyAudio"]["audio"].contains("data"));
  EXPECT_FALSE(io_.frames()[2].text);
  EXPECT_EQ(io_.frames()[2].data.size(), 640u);
  EXPECT_FALSE(io_.frames()[3].text);  // Same sentence: no second header.
}

TEST_F(BrowserCallTest, BadFramesCloseWithADocumentedCode) {
  {
    FakeCallIo io;
    BrowserCall call(io, clock_);
    call.OnBinary("\x01");
    EXPECT_EQ(io.close()->first, kClosePolicy);
  }
  {
    FakeCallIo io;
    BrowserCall call(io, clock_);
    call.OnText("{\"inputFormat\": 5}");
    EXPECT_EQ(io.close()->first, kCloseInvalidPayload);
    EXPECT_NE(io.close()->second.find("config:"), std::string::npos);
  }
  {
    FakeCallIo io;
    BrowserCall call(io, clock_);
    call.OnText(kConfig);
    call.OnText(std::string("{\"config\": ") + kConfig + "}");
    EXPECT_EQ(io.close()->first, kClosePolicy);
    EXPECT_TRUE(io.cancelled());
  }
  {
    FakeCallIo io;
    BrowserCall call(io, clock_);
    call.OnText(kConfig);
    call.OnText("{\"unknownThing\": 1}");
    EXPECT_EQ(io.close()->first, kCloseInvalidPayload);
    EXPECT_LE(io.close()->second.size(), 123u);
  }
}

}  // namespace
}  // namespace voxflow::gateway
