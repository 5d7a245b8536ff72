#include "services/stt/transcription_response.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow::stt {
namespace {

using ::testing::HasSubstr;

TEST(ParseTranscriptionTest, ReadsJson) {
  auto result = ParseTranscription(R"({"text": " what time is it "})");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->text, "what time is it");
  EXPECT_TRUE(result->words.empty());
  EXPECT_EQ(result->confidence, 0);
}

TEST(ParseTranscriptionTest, ReadsVerboseJsonWordsAndSegments) {
  auto result = ParseTranscription(R"({"task": "transcribe", "language": "english",
      "duration": 1.2, "text": "hello there",
      "words": [{"word": "hello", "start": 0.1, "end": 0.5}, {"word": " there", "start": 0.6,
      "end": 1.0}],
      "segments": [{"id": 0, "avg_logprob": -0.2}, {"id": 1, "avg_logprob": -0.4}]})");
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->words.size(), 2u);
  EXPECT_EQ(result->words[1].word(), "there");
  EXPECT_EQ(result->words[1].start_ms(), 600);
  EXPECT_EQ(result->words[1].end_ms(), 1000);
  EXPECT_NEAR(result->confidence, std::exp(-0.3), 1e-5);
}

TEST(ParseTranscriptionTest, MalformedBodiesAreInternalErrorsQuotedAndCut) {
  for (const char* body : {"", "{", "[]", R"({"txt": "x"})", R"({"text": 5})"}) {
    auto result = ParseTranscription(body);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal) << body;
    EXPECT_THAT(result.status().message(), HasSubstr("malformed transcription"));
  }
  auto long_body = ParseTranscription(std::string(100000, 'x'));
  EXPECT_LT(long_body.status().message().size(), 400u);
}

TEST(ParseTranscriptionEventTest, DeltasDoneAndErrors) {
  SseEvent delta{"", R"({"type": "transcript.text.delta", "delta": "what "})"};
  auto d = ParseTranscriptionEvent(delta);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, TranscriptionEvent::Kind::kDelta);
  EXPECT_EQ(d->text, "what ");
  auto done = ParseTranscriptionEvent({"", R"({"type": "transcript.text.done", "text": "what"})"});
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->kind, TranscriptionEvent::Kind::kDone);
  EXPECT_EQ(done->text, "what");
  EXPECT_EQ(ParseTranscriptionEvent({"", "[DONE]"})->kind, TranscriptionEvent::Kind::kOther);
  EXPECT_EQ(ParseTranscriptionEvent({"", "nope"}).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ParseTranscriptionEvent({"", R"({"type": "error", "error": {"message": "x"}})"})
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace voxflow::stt
