#include "services/gateway/twilio_call.h"

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/gateway/testing/fake_call_io.h"

namespace voxflow::gateway {
namespace {

using Json = nlohmann::json;
using testing::FakeCallIo;

constexpr char kStart[] = R"({"event": "start", "sequenceNumber": "1",
    "start": {"accountSid": "AC1", "streamSid": "MZ1", "callSid": "CA1", "tracks": ["inbound"],
              "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
              "customParameters": {"pipeline": "support", "voice": "en-us", "customer": "42"}},
    "streamSid": "MZ1"})";

std::string Media(int chunk, const std::string& base64) {
  return Json{{"event", "media"},
              {"sequenceNumber", std::to_string(chunk + 1)},
              {"streamSid", "MZ1"},
              {"media",
               {{"track", "inbound"},
                {"chunk", std::to_string(chunk)},
                {"timestamp", std::to_string((chunk - 1) * 20)},
                {"payload", base64}}}}
      .dump();
}

v1::ConverseEvent ReplyAudio(int turn, const std::string& text, size_t bytes) {
  v1::ConverseEvent event;
  event.mutable_reply_audio()->set_turn_id(turn);
  event.mutable_reply_audio()->set_text(text);
  event.mutable_reply_audio()->mutable_audio()->set_data(std::string(bytes, '\x7f'));
  return event;
}

v1::ConverseEvent Telemetry(const std::string& name, int turn) {
  v1::ConverseEvent event;
  event.mutable_telemetry()->set_name(name);
  (*event.mutable_telemetry()->mutable_attributes())["turn_id"] = std::to_string(turn);
  return event;
}

class TwilioCallTest : public ::testing::Test {
 protected:
  Json Frame(size_t i) { return Json::parse(io_.frames().at(i).data); }

  FakeCallIo io_;
  absl::Time now_ = absl::UnixEpoch();
  VoiceClock clock_{[this] { return now_; }};
  TwilioCall call_{io_, clock_};
};

TEST_F(TwilioCallTest, StartOpensAMulawConversationWithTheCallsParameters) {
  call_.OnText(R"({"event": "connected", "protocol": "Call", "version": "1.0.0"})");
  EXPECT_FALSE(io_.config().has_value());
  call_.OnText(kStart);
  ASSERT_TRUE(io_.config().has_value());
  const v1::SessionConfig& config = *io_.config();
  EXPECT_EQ(config.input_format().format(), v1::MULAW);
  EXPECT_EQ(config.input_format().sample_rate(), 8000);
  EXPECT_EQ(config.output_format().format(), v1::MULAW);
  // A phone line: the caller may be on a speakerphone.
  EXPECT_EQ(config.echo_cancellation(), v1::ECHO_CANCELLATION_AUTO);
  EXPECT_EQ(config.pipeline(), "support");
  EXPECT_EQ(config.voice(), "en-us");
  EXPECT_EQ(config.attributes().at("customer"), "42");
  EXPECT_EQ(config.attributes().at("twilio_call_sid"), "CA1");
  EXPECT_EQ(config.attributes().count("pipeline"), 0u);
}

TEST_F(TwilioCallTest, MediaKeepsTwiliosTimingAndNeverEndsTheInput) {
  call_.OnText(kStart);
  call_.OnText(Media(1, "//79"));
  call_.OnText(Media(2, "//79"));
  ASSERT_EQ(io_.requests().size(), 2u);
  const v1::AudioChunk& second = io_.requests()[1].audio();
  EXPECT_EQ(second.sequence(), 1u);
  EXPECT_EQ(second.timestamp_ms(), 20);
  EXPECT_EQ(second.format(), v1::MULAW);
  EXPECT_EQ(second.data(), std::string("\xff\xfe\xfd"));
  for (const auto& request : io_.requests()) EXPECT_FALSE(request.has_control());
}

TEST_F(TwilioCallTest, ReplyAudioGoesOutAsMediaWithAMarkAfterEachSentence) {
  call_.OnText(kStart);
  call_.OnEvent(ReplyAudio(1, "Hello there.", 160));
  call_.OnEvent(ReplyAudio(1, "Hello there.", 160));
  call_.OnEvent(ReplyAudio(1, "How are you?", 160));
  v1::ConverseEvent done;
  done.mutable_turn_completed()->set_turn_id(1);
  call_.OnEvent(done);
  ASSERT_EQ(io_.frames().size(), 5u);
  EXPECT_EQ(Frame(0)["event"], "media");
  EXPECT_EQ(Frame(0)["streamSid"], "MZ1");
  EXPECT_EQ(Frame(0)["media"]["payload"].get<std::string>().size(), 216u);  // base64 of 160.
  EXPECT_EQ(Frame(2)["event"], "mark");
  EXPECT_EQ(Frame(3)["event"], "media");
  EXPECT_EQ(Frame(4)["event"], "mark");

  // Twilio echoes the marks once the audio before them has played: that is what was heard.
  call_.OnText(Json{{"event", "mark"}, {"streamSid", "MZ1"}, {"mark", Frame(2)["mark"]}}.dump());
  ASSERT_EQ(io_.requests().size(), 1u);
  EXPECT_EQ(io_.requests()[0].playback().turn_id(), 1);
  EXPECT_EQ(io_.requests()[0].playback().played_ms(), 40);
  call_.OnText(Json{{"event", "mark"}, {"streamSid", "MZ1"}, {"mark", Frame(4)["mark"]}}.dump());
  ASSERT_EQ(io_.requests().size(), 2u);
  EXPECT_EQ(io_.requests()[1].playback().played_ms(), 60);
}

TEST_F(TwilioCallTest, APauseClearsTwiliosBufferAndItsMarksWereNotPlayed) {
  call_.OnText(kStart);
  call_.OnEvent(ReplyAudio(1, "One.", 160));
  call_.OnEvent(ReplyAudio(1, "Two.", 160));  // A mark for "One." goes before it.
  call_.OnEvent(Telemetry("turn.reply_paused", 1));
  ASSERT_EQ(io_.frames().size(), 4u);
  EXPECT_EQ(Frame(3)["event"], "clear");
  // Twilio hands back the marks it dropped: not played, not reported.
  call_.OnText(Json{{"event", "mark"}, {"streamSid", "MZ1"}, {"mark", Frame(1)["mark"]}}.dump());
  EXPECT_TRUE(io_.requests().empty());
  // A second pause with nothing sent since sends nothing more.
  call_.OnEvent(Telemetry("turn.interrupted", 1));
  EXPECT_EQ(io_.frames().size(), 4u);
  // Audio of the interrupted turn still in flight is dropped.
  call_.OnEvent(ReplyAudio(1, "Two.", 160));
  EXPECT_EQ(io_.frames().size(), 4u);
  // The next turn plays.
  call_.OnEvent(ReplyAudio(2, "Sure.", 160));
  EXPECT_EQ(io_.frames().size(), 5u);
}

TEST_F(TwilioCallTest, DtmfReachesTheSessionAndIsNeverAnError) {
  call_.OnText(kStart);
  call_.OnText(R"({"event": "dtmf", "streamSid": "MZ1", "sequenceNumber": "5",
                   "dtmf": {"track": "inbound_track", "digit": "5"}})");
  call_.OnText(R"({"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": "?"}})");
  ASSERT_EQ(io_.requests().size(), 1u);
  EXPECT_EQ(io_.requests()[0].dtmf().digits(), "5");
  EXPECT_FALSE(io_.close().has_value());
}

TEST_F(TwilioCallTest, BadInputClosesWithADocumentedCode) {
  const std::pair<std::string, uint16_t> cases[] = {
      {"{", kCloseInvalidPayload},
      {R"({"event": "wat"})", kClosePolicy},
      {Media(1, "//79"), kClosePolicy},  // Before start.
  };
  for (const auto& [text, code] : cases) {
    FakeCallIo io;
    TwilioCall call(io, clock_);
    call.OnText(text);
    ASSERT_TRUE(io.close().has_value()) << text;
    EXPECT_EQ(io.close()->first, code) << text << ": " << io.close()->second;
  }
  FakeCallIo io;
  TwilioCall call(io, clock_);
  call.OnText(kStart);
  call.OnText(Media(1, "!!!"));
  ASSERT_TRUE(io.close().has_value());
  EXPECT_EQ(io.close()->first, kCloseInvalidPayload);
  EXPECT_EQ(io.close()->second, "twilio message: media.payload is not base64");
  EXPECT_TRUE(io.cancelled());

  FakeCallIo binary_io;
  TwilioCall binary(binary_io, clock_);
  binary.OnBinary("\x01\x02");
  EXPECT_EQ(binary_io.close()->first, kCloseUnsupported);

  FakeCallIo format_io;
  TwilioCall format(format_io, clock_);
  std::string start = kStart;
  start.replace(start.find("8000"), 4, "16000");
  format.OnText(start);
  EXPECT_EQ(format_io.close()->first, kCloseInvalidPayload);
  EXPECT_FALSE(format_io.config().has_value());
}

TEST_F(TwilioCallTest, StopEndsTheConversationAndTheEndClosesTheSocket) {
  call_.OnText(kStart);
  call_.OnText(R"({"event": "stop", "sequenceNumber": "9", "streamSid": "MZ1",
                   "stop": {"accountSid": "AC1", "callSid": "CA1"}})");
  EXPECT_TRUE(io_.cancelled());
  EXPECT_EQ(io_.close()->first, kCloseNormal);

  FakeCallIo io;
  TwilioCall call(io, clock_);
  call.OnText(kStart);
  call.OnConverseEnd(absl::InvalidArgumentError("config.pipeline: unknown pipeline 'x'"));
  EXPECT_EQ(io.close()->first, kCloseGrpcBase + 3);
  EXPECT_EQ(io.close()->second, "config.pipeline: unknown pipeline 'x'");
}

}  // namespace
}  // namespace voxflow::gateway
