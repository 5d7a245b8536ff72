#include "services/stt/stt_session.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mocks/mock_stt_engine.h"

namespace voxflow::stt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::RecognitionConfig Config(bool interim = false) {
  v1::RecognitionConfig config;
  config.set_language("en-US");
  config.mutable_audio_format()->set_format(v1::PCM16);
  config.mutable_audio_format()->set_sample_rate(16000);
  config.mutable_audio_format()->set_channels(1);
  config.set_interim_results(interim);
  return config;
}

v1::AudioChunk Chunk(std::string data, int rate = 16000) {
  v1::AudioChunk chunk;
  chunk.set_format(v1::PCM16);
  chunk.set_sample_rate(rate);
  chunk.set_channels(1);
  chunk.set_data(std::move(data));
  return chunk;
}

// 20 ms chunks of a recognisable byte pattern.
std::vector<v1::AudioChunk> Clip(int ms, char fill = 1) {
  std::vector<v1::AudioChunk> chunks;
  for (int t = 0; t < ms; t += 20) chunks.push_back(Chunk(std::string(640, fill)));
  return chunks;
}

struct Outcome {
  std::vector<v1::RecognizeResponse> responses;
  absl::Status status;
  std::vector<std::string> Interims() const {
    std::vector<std::string> out;
    for (const auto& r : responses) {
      if (r.has_transcript() && !r.transcript().is_final()) out.push_back(r.transcript().text());
    }
    return out;
  }
  const v1::Transcript* Final() const {
    for (const auto& r : responses) {
      if (r.has_transcript() && r.transcript().is_final()) return &r.transcript();
    }
    return nullptr;
  }
};

Outcome Recognize(SttEngine& engine, const std::vector<v1::AudioChunk>& clip,
                  v1::RecognitionConfig config = Config()) {
  Outcome run;
  auto session = SttSession::Create(
      &engine, config, [&](v1::RecognizeResponse r) { run.responses.push_back(std::move(r)); });
  if (!session.ok()) {
    run.status = session.status();
    return run;
  }
  for (const auto& chunk : clip) {
    run.status = (*session)->PushAudio(chunk);
    if (!run.status.ok()) return run;
  }
  run.status = (*session)->FinishAndWait();
  return run;
}

mocks::MockSttOptions Fast() {
  mocks::MockSttOptions options;
  options.latency_ms = 0;
  options.latency_jitter_ms = 0;
  return options;
}

TEST(SttSessionTest, CyclesTranscriptionsAcrossStreams) {
  mocks::MockSttOptions options = Fast();
  options.transcriptions = {"first", "second"};
  mocks::MockSttEngine engine(options);
  std::vector<std::string> texts;
  for (int i = 0; i < 3; ++i) texts.push_back(Recognize(engine, Clip(100)).Final()->text());
  EXPECT_THAT(texts, ElementsAre("first", "second", "first"));
}

TEST(SttSessionTest, DefaultTranscription) {
  mocks::MockSttEngine engine(Fast());
  EXPECT_EQ(Recognize(engine, Clip(60)).Final()->text(), "Mock transcription");
}

TEST(SttSessionTest, AudioMapHitDoesNotAdvanceTheCycle) {
  const std::vector<v1::AudioChunk> hello = Clip(100, 7);
  std::string pcm;
  for (const auto& c : hello) pcm += c.data();
  mocks::MockSttOptions options = Fast();
  options.transcriptions = {"first", "second"};
  options.audio_map = {{mocks::AudioHash(pcm), "hello there"}};
  mocks::MockSttEngine engine(options);
  EXPECT_EQ(mocks::AudioHash(pcm).size(), 16u);
  EXPECT_EQ(Recognize(engine, hello).Final()->text(), "hello there");
  EXPECT_EQ(Recognize(engine, Clip(100)).Final()->text(), "first");
  EXPECT_EQ(Recognize(engine, hello).Final()->text(), "hello there") << "same audio, same text";
  EXPECT_EQ(Recognize(engine, Clip(100)).Final()->text(), "second");
}

TEST(SttSessionTest, AudioHashIsMd5Prefix) {
  // MD5("") = d41d8cd98f00b204e9800998ecf8427e.
  EXPECT_EQ(mocks::AudioHash(""), "d41d8cd98f00b204");
}

TEST(SttSessionTest, InterimWordsArriveBeforeTheFinal) {
  mocks::MockSttOptions options = Fast();
  options.transcriptions = {"one two three"};
  mocks::MockSttEngine engine(options);
  const Outcome run = Recognize(engine, Clip(1000), Config(/*interim=*/true));
  EXPECT_THAT(run.Interims(), ElementsAre("one", "one two", "one two three"));
  ASSERT_NE(run.Final(), nullptr);
  EXPECT_EQ(run.Final()->text(), "one two three");
  EXPECT_TRUE(run.responses.front().has_speech_event());
  EXPECT_EQ(run.responses.back().speech_event().type(), v1::SpeechEvent::END_OF_UTTERANCE);
}

TEST(SttSessionTest, SeededConfidenceAndLatency) {
  mocks::MockSttOptions options;
  options.latency_ms = 30;
  options.latency_jitter_ms = 0;
  mocks::MockSttEngine a(options), b(options);
  for (int i = 0; i < 3; ++i) {
    const Outcome ra = Recognize(a, Clip(40)), rb = Recognize(b, Clip(40));
    EXPECT_EQ(ra.Final()->confidence(), rb.Final()->confidence());
    EXPECT_GE(ra.Final()->confidence(), 0.85f);
    EXPECT_LE(ra.Final()->confidence(), 0.99f);
    EXPECT_EQ(ra.Final()->latency_ms(), 30);
  }
}

TEST(SttSessionTest, ConfigErrorsNameTheField) {
  mocks::MockSttEngine engine(Fast());
  v1::RecognitionConfig config = Config();
  config.set_language("");
  EXPECT_EQ(Recognize(engine, {}, config).status,
            absl::InvalidArgumentError("config.language is required"));
  config = Config();
  config.set_language("xx-XX");
  EXPECT_THAT(Recognize(engine, {}, config).status.message(),
              HasSubstr("config.language 'xx-XX' is not supported by mock"));
  config = Config();
  config.set_language(std::string(100 * 1024, 'x'));  // Not echoed whole.
  EXPECT_LT(Recognize(engine, {}, config).status.message().size(), 300u);
  config = Config();
  config.mutable_audio_format()->set_sample_rate(12345678);
  EXPECT_THAT(Recognize(engine, {}, config).status.message(),
              HasSubstr("config.audio_format.sample_rate 12345678"));
  config = Config();
  config.mutable_endpointing()->set_silence_ms(-5);
  EXPECT_THAT(Recognize(engine, {}, config).status.message(),
              HasSubstr("config.endpointing.silence_ms -5"));
  config = Config();
  config.mutable_endpointing()->set_max_utterance_ms(1 << 30);
  EXPECT_THAT(Recognize(engine, {}, config).status.message(),
              HasSubstr("config.endpointing.max_utterance_ms"));
}

TEST(SttSessionTest, ChunkErrorsNameTheProblem) {
  mocks::MockSttEngine engine(Fast());
  EXPECT_THAT(Recognize(engine, {Chunk(std::string(641, 'x'))}).status.message(),
              HasSubstr("641 bytes is not a whole number of 2-byte frames"));
  EXPECT_THAT(Recognize(engine, {Chunk("")}).status.message(), HasSubstr("data is empty"));
  EXPECT_THAT(Recognize(engine, {Chunk("ab", 8000)}).status.message(),
              HasSubstr("sample_rate 8000 differs from the stream's 16000"));
  EXPECT_THAT(Recognize(engine, {Chunk(std::string(300 * 1024, 'x'))}).status.message(),
              HasSubstr("exceeds the limit"));
}

TEST(SttSessionTest, EngineFailuresPropagate) {
  mocks::MockSttOptions options = Fast();
  options.fail_rate = 1;
  mocks::MockSttEngine failing(options);
  EXPECT_EQ(Recognize(failing, Clip(40)).status.code(), absl::StatusCode::kUnavailable);
  options = Fast();
  options.fail_after_chunks = 2;
  mocks::MockSttEngine breaking(options);
  EXPECT_THAT(Recognize(breaking, Clip(100)).status.message(), HasSubstr("after 2 chunks"));
}

TEST(SttSessionTest, AudioAfterFinishIsRejected) {
  mocks::MockSttEngine engine(Fast());
  auto session = *SttSession::Create(&engine, Config(), [](v1::RecognizeResponse) {});
  ASSERT_TRUE(session->FinishAndWait().ok());
  EXPECT_EQ(session->PushAudio(Clip(20)[0]).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SttSessionTest, CancelStopsAHangingRecognizer) {
  mocks::MockSttOptions options = Fast();
  options.hang = true;
  mocks::MockSttEngine engine(options);
  auto session = *SttSession::Create(&engine, Config(), [](v1::RecognizeResponse) {});
  ASSERT_TRUE(session->PushAudio(Clip(20)[0]).ok());
  std::thread canceller([&] { session->Cancel(); });
  EXPECT_EQ(session->FinishAndWait().code(), absl::StatusCode::kCancelled);
  canceller.join();
}

}  // namespace
}  // namespace voxflow::stt
