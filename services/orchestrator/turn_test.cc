// Turn over a FakeTurnHost: what its stages report reaches the session named by the turn's id,
// and nothing reaches a session that is gone. No session, gRPC or clock.
#include "services/orchestrator/turn.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/orchestrator/testing/fake_turn_host.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::ElementsAre;
using testing::FakeTurnHost;
using ::testing::IsEmpty;
using ::testing::Pair;

std::shared_ptr<const v1::SessionConfig> Config(bool interim_results) {
  auto config = std::make_shared<v1::SessionConfig>();
  config->set_interim_results(interim_results);
  return config;
}

v1::Transcript Transcript(const std::string& text, bool is_final) {
  v1::Transcript transcript;
  transcript.set_text(text);
  transcript.set_is_final(is_final);
  return transcript;
}

InputItem Frame(const std::string& pcm) {
  InputItem item;
  item.audio.set_data(pcm);
  return item;
}

TEST(TurnTest, WordsHeardReachTheHostAndOnlyWantedTranscriptsAreSent) {
  auto host = std::make_shared<FakeTurnHost>();
  Turn turn(host, "s-1", Config(/*interim_results=*/false), 7, std::nullopt, nullptr);
  turn.OnTranscript(Transcript("what is", false));
  turn.OnTranscript(Transcript("what is the weather", true));
  EXPECT_EQ(turn.transcript(), "what is the weather");
  turn.OnTranscript(Transcript("", true));  // An empty final tells the caller nothing.
  // Barge-in counts every word, interim or not.
  EXPECT_THAT(host->heard,
              ElementsAre(Pair(7, "what is"), Pair(7, "what is the weather"), Pair(7, "")));
  ASSERT_EQ(host->events.size(), 1u);  // The interim is not wanted; the empty final not sent.
  EXPECT_EQ(host->events[0].transcript().text(), "what is the weather");
  EXPECT_TRUE(host->events[0].transcript().is_final());
  EXPECT_EQ(host->events[0].transcript().turn_id(), 7);
}

TEST(TurnTest, AFinalTranscriptThatIsTheRepliesEchoLeavesNothingToAnswer) {
  auto host = std::make_shared<FakeTurnHost>();
  host->echo = "i can't see outside";
  Turn turn(host, "s-1", Config(/*interim_results=*/false), 7, std::nullopt, nullptr);
  turn.OnTranscript(Transcript("i can't see outside", true));
  EXPECT_FALSE(turn.HeardEchoOfReply("what time is it"));
  EXPECT_EQ(turn.transcript(), "i can't see outside");
  EXPECT_TRUE(turn.HeardEchoOfReply("i can't see outside"));
  EXPECT_EQ(turn.transcript(), "");
  EXPECT_EQ(turn.echo_of_reply(), "i can't see outside");
}

TEST(TurnTest, InterimTranscriptsAreSentWhenTheCallerAskedForThem) {
  auto host = std::make_shared<FakeTurnHost>();
  Turn turn(host, "s-1", Config(/*interim_results=*/true), 1, std::nullopt, nullptr);
  turn.OnTranscript(Transcript("hello", false));
  turn.OnTranscript(Transcript("hello there", true));
  ASSERT_EQ(host->events.size(), 2u);
  EXPECT_FALSE(host->events[0].transcript().is_final());
  EXPECT_EQ(turn.transcript(), "hello there");
}

TEST(TurnTest, TheRecognizersEndOfUtteranceIsASecondEndpointSignal) {
  auto host = std::make_shared<FakeTurnHost>();
  Turn turn(host, "s-1", Config(false), 3, std::nullopt, nullptr);
  v1::SpeechEvent started;
  started.set_type(v1::SpeechEvent::SPEECH_STARTED);
  turn.OnSpeechEvent(started);
  EXPECT_THAT(host->endpoints, IsEmpty());
  v1::SpeechEvent ended;
  ended.set_type(v1::SpeechEvent::END_OF_UTTERANCE);
  ended.set_offset_ms(840);
  turn.OnSpeechEvent(ended);
  EXPECT_THAT(host->endpoints, ElementsAre(3));
  ASSERT_EQ(host->telemetry.size(), 2u);
  EXPECT_EQ(host->telemetry[0].first, "stt.speech_started");
  EXPECT_EQ(host->telemetry[1].first, "stt.end_of_utterance");
  EXPECT_EQ(host->telemetry[1].second.at("offset_ms"), "840");
  EXPECT_EQ(host->telemetry[1].second.at("turn_id"), "3");
}

TEST(TurnTest, ReplyTextAndAudioGoToTheHostUnderTheTurnsId) {
  auto host = std::make_shared<FakeTurnHost>();
  Turn turn(host, "s-1", Config(false), 2, "hi", nullptr);
  turn.OnReplyText("Hello ", false);
  turn.OnReplyText("there.", true);
  EXPECT_EQ(turn.reply(), "Hello there.");
  ASSERT_EQ(host->events.size(), 2u);
  EXPECT_EQ(host->events[1].reply_text().text(), "there.");
  EXPECT_TRUE(host->events[1].reply_text().is_final());
  EXPECT_EQ(host->events[1].reply_text().turn_id(), 2);

  v1::AudioChunk audio;
  audio.set_data(std::string(640, '\0'));
  host->answer_offers = ReplyOffer::kFull;
  EXPECT_EQ(turn.TryReplyAudio(audio, "Hello"), ReplyOffer::kFull);
  ASSERT_EQ(host->offers.size(), 1u);
  EXPECT_EQ(host->offers[0].turn_id, 2);
  EXPECT_EQ(host->offers[0].bytes, 640u);
  EXPECT_EQ(host->offers[0].text, "Hello");

  bool room = false;
  turn.WhenReplyRoom(640, [&room] { room = true; });
  EXPECT_THAT(host->room_waits, ElementsAre(Pair(2, 640u)));
  EXPECT_FALSE(room);  // The host calls it when the output has room.
  host->room_waiters[0]();
  EXPECT_TRUE(room);
}

TEST(TurnTest, AToolCallGoesToTheHostAndItsAnswerComesBack) {
  auto host = std::make_shared<FakeTurnHost>();
  host->tool_answer = R"({"temp_c": 21})";
  Turn turn(host, "s-1", Config(false), 4, "weather?", nullptr);
  std::optional<LlmToolAnswer> answer;
  turn.CallTool({"call-1", "get_weather", "{}"}, absl::Seconds(1), CancellationToken::Create(),
                [&answer](LlmToolAnswer a) { answer = std::move(a); });
  EXPECT_THAT(host->tool_calls, ElementsAre(Pair(4, "get_weather")));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->content_json, R"({"temp_c": 21})");
}

// The session holds its turns; a turn holds its session weakly. A stage still running after the
// session ended reports into nothing, and whatever waits on the session is let go at once.
TEST(TurnTest, OnceTheHostIsGoneReportsAreDroppedAndWaitersLetGo) {
  auto host = std::make_shared<FakeTurnHost>();
  Turn turn(host, "s-1", Config(true), 5, std::nullopt, nullptr);
  std::weak_ptr<FakeTurnHost> watched = host;
  host.reset();
  ASSERT_TRUE(watched.expired()) << "a turn must not keep its session alive";

  turn.OnTranscript(Transcript("still here", true));
  EXPECT_EQ(turn.transcript(), "still here");  // The turn keeps what it heard.
  turn.OnReplyText("Bye.", true);
  EXPECT_EQ(turn.reply(), "Bye.");
  v1::AudioChunk audio;
  audio.set_data(std::string(320, '\0'));
  EXPECT_EQ(turn.TryReplyAudio(audio, "Bye."), ReplyOffer::kRefused);
  bool room = false;
  turn.WhenReplyRoom(320, [&room] { room = true; });
  EXPECT_TRUE(room);
  std::optional<LlmToolAnswer> answer;
  turn.CallTool({"call-1", "get_weather", "{}"}, absl::Seconds(1), CancellationToken::Create(),
                [&answer](LlmToolAnswer a) { answer = std::move(a); });
  ASSERT_TRUE(answer.has_value());
  EXPECT_THAT(answer->error, ::testing::HasSubstr("session is over"));
}

TEST(TurnTest, ASpokenTurnReadsItsUtteranceAndATypedTurnHasNoInput) {
  auto host = std::make_shared<FakeTurnHost>();
  auto utterance = std::make_shared<Utterance>(0);
  Turn spoken(host, "s-1", Config(false), 1, std::nullopt, utterance);
  utterance->Append(Frame("ab"));
  utterance->Append(Frame("cd"));
  std::optional<InputItem> first = spoken.TryNextInput();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->audio.data(), "ab");
  std::optional<InputItem> second = spoken.NextInput(CancellationToken::Create());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->audio.data(), "cd");
  EXPECT_FALSE(spoken.TryNextInput().has_value());  // Nothing more yet.

  Turn typed(host, "s-1", Config(false), 2, "what time is it", nullptr);
  EXPECT_FALSE(typed.TryNextInput().has_value());
  EXPECT_FALSE(typed.WatchInput([] {}));
  EXPECT_EQ(typed.transcript(), "what time is it");
}

TEST(TurnTest, MarksAreTheTimesGivenAndUnmarkedIsInfinitePast) {
  auto host = std::make_shared<FakeTurnHost>();
  Turn turn(host, "s-1", Config(false), 1, "hi", nullptr);
  const absl::Time at = absl::FromUnixMillis(1'000'000);
  turn.Mark(TurnMark::kEndOfSpeech, at);
  turn.Mark(TurnMark::kEndOfSpeech, at + absl::Seconds(1));  // The first mark stands.
  EXPECT_EQ(turn.MarkTime(TurnMark::kEndOfSpeech), at);
  EXPECT_EQ(turn.MarkTime(TurnMark::kEndOfTurn), absl::InfinitePast());
}

}  // namespace
}  // namespace voxflow::orchestrator
