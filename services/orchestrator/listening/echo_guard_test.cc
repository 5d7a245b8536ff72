#include "services/orchestrator/listening/echo_guard.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::ElementsAre;

const absl::Time kT0 = absl::FromUnixSeconds(1000);

absl::Time At(int ms) { return kT0 + absl::Milliseconds(ms); }

// The reply "I can't see outside. Where are you calling from?" sent from t=0 in 20 ms frames.
EchoGuard SentReply() {
  EchoGuard guard;
  for (int ms = 0; ms < 1600; ms += 20) guard.OnReplySent("I can't see outside.", At(ms), 20);
  for (int ms = 1600; ms < 3200; ms += 20) {
    guard.OnReplySent("Where are you calling from?", At(ms), 20);
  }
  return guard;
}

TEST(EchoGuardTest, WordsAreComparedWithoutCaseOrPunctuation) {
  EXPECT_THAT(EchoGuard::Words("  I can't, SEE-outside?! "),
              ElementsAre("i", "can't", "see", "outside"));
  EXPECT_TRUE(EchoGuard::Words(" ... ").empty());
}

TEST(EchoGuardTest, TheReplysOwnWordsComingBackAreEcho) {
  const EchoGuard guard = SentReply();
  // The echo of the first sentence, 300 ms late, and of the second, with a word misheard.
  EXPECT_TRUE(guard.IsEcho("i can't see outside", At(300)));
  EXPECT_TRUE(guard.IsEcho("where are you calling home", At(1900)));
  EXPECT_TRUE(guard.IsEcho("see", At(700)));
  EXPECT_EQ(guard.CallerWords("i can't see outside", At(300)), 0);
}

TEST(EchoGuardTest, TheCallersOwnWordsAreNot) {
  const EchoGuard guard = SentReply();
  EXPECT_FALSE(guard.IsEcho("what time is it", At(500)));
  // Words of the reply out of its order.
  EXPECT_FALSE(guard.IsEcho("outside see i", At(300)));
  // Some of the reply's words among more of the caller's.
  EXPECT_FALSE(guard.IsEcho("are you open on sunday", At(2000)));
  EXPECT_EQ(guard.CallerWords("are you open on sunday", At(2000)), 3);
  EXPECT_FALSE(guard.IsEcho("", At(300)));
}

TEST(EchoGuardTest, OnlyWordsSentAroundTheSpeechCount) {
  const EchoGuard guard = SentReply();
  // "outside" went out by 1.6 s: speech that began 3 s later is not its echo.
  EXPECT_FALSE(guard.IsEcho("see outside", At(4600)));
  EXPECT_TRUE(guard.IsEcho("calling from", At(3500)));
  // Nothing sent yet.
  EXPECT_FALSE(EchoGuard().IsEcho("i can't", At(0)));
  EXPECT_EQ(EchoGuard().CallerWords("i can't", At(0)), 2);
}

}  // namespace
}  // namespace voxflow::orchestrator
