#include "services/orchestrator/heard_reply.h"

#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

TEST(HeardReplyTest, WholeSentencesAndTheShareOfTheLastOneSent) {
  HeardReply heard;
  heard.Take("It is sunny today.", 1000);
  heard.Take("Take a hat and some water!", 1000);
  EXPECT_EQ(heard.Send(600), "It is sunny today.");
  EXPECT_EQ(heard.HeardText(), "It is...");
  EXPECT_EQ(heard.Send(400), "It is sunny today.");
  EXPECT_EQ(heard.Send(500), "Take a hat and some water!");
  EXPECT_EQ(heard.HeardText(), "It is sunny today. Take a hat...");
}

TEST(HeardReplyTest, NothingSentIsNothingHeard) {
  HeardReply heard;
  EXPECT_EQ(heard.HeardText(), "");
  heard.Take("Hello.", 500);
  EXPECT_EQ(heard.HeardText(), "");
}

TEST(HeardReplyTest, PlaybackReportsBoundWhatWasHeard) {
  HeardReply heard;
  heard.Take("It is sunny today.", 1000);
  heard.Take("Take a hat and some water!", 1000);
  heard.Send(1500);
  // Sent but not played yet (a phone carrier's buffer): not heard.
  heard.Played(1000);
  EXPECT_EQ(heard.HeardText(), "It is sunny today.");
  heard.Played(400);  // Reports only move forward.
  EXPECT_EQ(heard.HeardText(), "It is sunny today.");
  heard.Played(1200);
  EXPECT_EQ(heard.HeardText(), "It is sunny today. Take...");
  // Played cannot pass what was sent.
  heard.Played(5000);
  EXPECT_EQ(heard.HeardText(), "It is sunny today. Take a hat...");
}

TEST(HeardReplyTest, NothingPlayedIsNothingHeard) {
  HeardReply heard;
  heard.Take("Hello there.", 500);
  heard.Send(500);
  heard.Played(0);
  EXPECT_EQ(heard.HeardText(), "");
}

}  // namespace
}  // namespace voxflow::orchestrator
