#include "services/gateway/twilio_messages.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace voxflow::gateway {
namespace {

TEST(TwilioMessagesTest, StartAsTwilioSendsIt) {
  auto message = ParseTwilioMessage(R"({
    "event": "start", "sequenceNumber": "1",
    "start": {"accountSid": "AC123", "streamSid": "MZ456", "callSid": "CA789",
              "tracks": ["inbound"],
              "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
              "customParameters": {"pipeline": "voice_chat", "customer": "42"}},
    "streamSid": "MZ456"})");
  ASSERT_TRUE(message.ok()) << message.status();
  const auto& start = std::get<TwilioStart>(*message);
  EXPECT_EQ(start.stream_sid, "MZ456");
  EXPECT_EQ(start.call_sid, "CA789");
  EXPECT_EQ(start.encoding, "audio/x-mulaw");
  EXPECT_EQ(start.sample_rate, 8000);
  EXPECT_EQ(start.channels, 1);
  EXPECT_EQ(start.tracks, std::vector<std::string>{"inbound"});
  EXPECT_EQ(start.custom_parameters.at("customer"), "42");
}

TEST(TwilioMessagesTest, MediaDecodesItsPayloadAndCounts) {
  auto message = ParseTwilioMessage(
      R"({"event": "media", "sequenceNumber": "3", "media": {"track": "inbound", "chunk": "2",
          "timestamp": "25", "payload": "//79"}, "streamSid": "MZ456"})");
  ASSERT_TRUE(message.ok()) << message.status();
  const auto& media = std::get<TwilioMedia>(*message);
  EXPECT_EQ(media.chunk, 2);
  EXPECT_EQ(media.timestamp_ms, 25);
  EXPECT_EQ(media.audio, std::string("\xff\xfe\xfd"));
}

TEST(TwilioMessagesTest, MarkDtmfStopAndConnected) {
  auto mark = ParseTwilioMessage(
      R"({"event": "mark", "sequenceNumber": "4", "streamSid": "MZ", "mark": {"name": "m1"}})");
  ASSERT_TRUE(mark.ok());
  EXPECT_EQ(std::get<TwilioMark>(*mark).name, "m1");
  auto dtmf = ParseTwilioMessage(
      R"({"event": "dtmf", "streamSid": "MZ", "sequenceNumber": "5",
          "dtmf": {"track": "inbound_track", "digit": "7"}})");
  ASSERT_TRUE(dtmf.ok());
  EXPECT_EQ(std::get<TwilioDtmf>(*dtmf).digit, "7");
  auto stop = ParseTwilioMessage(
      R"({"event": "stop", "sequenceNumber": "6", "streamSid": "MZ",
          "stop": {"accountSid": "AC", "callSid": "CA"}})");
  ASSERT_TRUE(stop.ok());
  EXPECT_EQ(std::get<TwilioStop>(*stop).call_sid, "CA");
  auto connected =
      ParseTwilioMessage(R"({"event": "connected", "protocol": "Call", "version": "1.0.0"})");
  ASSERT_TRUE(connected.ok());
  EXPECT_EQ(std::get<TwilioConnected>(*connected).protocol, "Call");
}

TEST(TwilioMessagesTest, BadInputNamesWhatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"{not json", "not JSON"},
      {"[1, 2]", "not a JSON object"},
      {R"({"streamSid": "MZ"})", "event is missing"},
      {R"({"event": "hello"})", "unknown event 'hello'"},
      {R"({"event": "media", "media": {"chunk": "1", "timestamp": "0", "payload": "@@@"}})",
       "media.payload is not base64"},
      {R"({"event": "media", "media": {"chunk": "x", "timestamp": "0", "payload": ""}})",
       "media.chunk is not a count"},
      {R"({"event": "media"})", "media is missing"},
      {R"({"event": "start", "start": {"streamSid": "MZ"}})", "start.mediaFormat is missing"},
      {R"({"event": "mark", "mark": {}})", "mark.name is missing"},
  };
  for (const auto& [text, expected] : cases) {
    auto message = ParseTwilioMessage(text);
    ASSERT_FALSE(message.ok()) << text;
    EXPECT_EQ(message.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(message.status().message(), expected))
        << text << " -> " << message.status();
  }
}

TEST(TwilioMessagesTest, OutgoingMessagesAsTwilioDocumentsThem) {
  EXPECT_EQ(TwilioMediaMessage("MZ1", std::string("\xff\xfe\xfd")),
            R"({"event":"media","media":{"payload":"//79"},"streamSid":"MZ1"})");
  EXPECT_EQ(TwilioMarkMessage("MZ1", "m1"),
            R"({"event":"mark","mark":{"name":"m1"},"streamSid":"MZ1"})");
  EXPECT_EQ(TwilioClearMessage("MZ1"), R"({"event":"clear","streamSid":"MZ1"})");
}

}  // namespace
}  // namespace voxflow::gateway
