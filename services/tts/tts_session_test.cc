#include "services/tts/tts_session.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mocks/mock_tts_engine.h"
#include "services/common/audio_chunk.h"
#include "services/common/opus_codec.h"

namespace voxflow::tts {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::SynthesisConfig Config(int chunk_ms = 20) {
  v1::SynthesisConfig config;
  config.set_language("en-US");
  config.mutable_output_format()->set_format(v1::PCM16);
  config.mutable_output_format()->set_sample_rate(16000);
  config.mutable_output_format()->set_channels(1);
  config.set_chunk_duration_ms(chunk_ms);
  return config;
}

v1::TextPiece Piece(std::string text, std::string id = "") {
  v1::TextPiece piece;
  piece.set_text(std::move(text));
  piece.set_piece_id(std::move(id));
  return piece;
}

struct Collector {
  std::vector<v1::SynthesizeResponse> responses;
  TtsSession::ResponseSink Sink() {
    return [this](v1::SynthesizeResponse r) { responses.push_back(std::move(r)); };
  }
  // Sentences in the order their audio arrived.
  std::vector<std::string> Texts() const {
    std::vector<std::string> texts;
    for (const auto& r : responses) {
      if (!r.is_final() && (texts.empty() || texts.back() != r.text())) texts.push_back(r.text());
    }
    return texts;
  }
  std::string AudioOf(const std::string& text) const {
    std::string audio;
    for (const auto& r : responses) {
      if (r.text() == text) audio += r.audio().data();
    }
    return audio;
  }
};

mocks::MockTtsEngine FastMock() { return mocks::MockTtsEngine({.latency_ms = 0}); }

TEST(TtsSessionTest, RendersEachSentenceAsSoonAsItIsComplete) {
  auto engine = FastMock();
  Collector out;
  auto session = *TtsSession::Create(&engine, Config(), out.Sink());
  ASSERT_TRUE(session->PushText(Piece("Hello there. How", "p1")).ok());
  EXPECT_THAT(out.Texts(), ElementsAre("Hello there."));
  ASSERT_TRUE(session->PushText(Piece(" are you? Fine", "p2")).ok());
  EXPECT_THAT(out.Texts(), ElementsAre("Hello there.", "How are you?"));
  ASSERT_TRUE(session->Finish().ok());
  EXPECT_THAT(out.Texts(), ElementsAre("Hello there.", "How are you?", "Fine"));
  const v1::SynthesizeResponse& last = out.responses.back();
  EXPECT_TRUE(last.is_final());
  EXPECT_TRUE(last.audio().is_final());
  EXPECT_TRUE(last.audio().data().empty());
}

TEST(TtsSessionTest, ChunksHaveTheRequestedDurationAndTags) {
  auto engine = FastMock();
  Collector out;
  auto session = *TtsSession::Create(&engine, Config(20), out.Sink());
  ASSERT_TRUE(session->PushText(Piece("One two. ", "a")).ok());
  ASSERT_TRUE(session->PushText(Piece("Three four five.", "b")).ok());
  ASSERT_TRUE(session->Finish().ok());
  uint64_t expected_sequence = 0;
  int64_t last_timestamp = -1;
  for (size_t i = 0; i < out.responses.size(); ++i) {
    const auto& r = out.responses[i];
    EXPECT_EQ(r.audio().sequence(), expected_sequence++);
    EXPECT_GT(r.audio().timestamp_ms(), last_timestamp - 1);
    last_timestamp = r.audio().timestamp_ms();
    EXPECT_EQ(r.audio().sample_rate(), 16000);
    const bool sentence_tail =
        i + 1 < out.responses.size() && out.responses[i + 1].text() != r.text();
    if (!r.is_final() && !sentence_tail) {
      EXPECT_EQ(r.audio().data().size(), 640u) << i;
    }
  }
  // Tags: the sentence, its piece, its byte offset in the stream.
  EXPECT_EQ(out.responses.front().text(), "One two.");
  EXPECT_EQ(out.responses.front().piece_id(), "a");
  EXPECT_EQ(out.responses.front().text_offset(), 0);
  const auto second = std::find_if(out.responses.begin(), out.responses.end(),
                                   [](const auto& r) { return r.text() == "Three four five."; });
  ASSERT_NE(second, out.responses.end());
  EXPECT_EQ(second->piece_id(), "b");
  EXPECT_EQ(second->text_offset(), 9);
}

TEST(TtsSessionTest, SameTextGivesTheSameBytes) {
  auto engine = FastMock();
  Collector first, second;
  auto a = *TtsSession::Create(&engine, Config(), first.Sink());
  auto b = *TtsSession::Create(&engine, Config(), second.Sink());
  ASSERT_TRUE(a->PushText(Piece("Deterministic audio.")).ok() && a->Finish().ok());
  ASSERT_TRUE(b->PushText(Piece("Deterministic audio.")).ok() && b->Finish().ok());
  const std::string audio = first.AudioOf("Deterministic audio.");
  // Compared as booleans: a failure must not print kilobytes of audio.
  EXPECT_TRUE(audio == second.AudioOf("Deterministic audio."));
  EXPECT_TRUE(audio == mocks::MockTtsEngine::AudioFor("Deterministic audio.", 100,
                                                      Config().output_format()));
  EXPECT_EQ(audio.size(), 20u * 100);  // bytes_per_char = 100.
}

TEST(TtsSessionTest, FlushRendersMidSentence) {
  auto engine = FastMock();
  Collector out;
  auto session = *TtsSession::Create(&engine, Config(), out.Sink());
  ASSERT_TRUE(session->PushText(Piece("no full stop yet")).ok());
  EXPECT_TRUE(out.responses.empty());
  ASSERT_TRUE(session->Flush().ok());
  EXPECT_THAT(out.Texts(), ElementsAre("no full stop yet"));
}

TEST(TtsSessionTest, RunOnTextIsSplitAtASpace) {
  auto engine = FastMock();
  Collector out;
  auto session =
      *TtsSession::Create(&engine, Config(), out.Sink(), TtsLimits{.max_sentence_bytes = 20});
  ASSERT_TRUE(session->PushText(Piece("aaaa bbbb cccc dddd eeee ffff")).ok());
  EXPECT_THAT(out.Texts(), ElementsAre("aaaa bbbb cccc dddd"));
}

TEST(TtsSessionTest, ConvertsToTheRequestedFormat) {
  // The mock renders into the requested format itself; a real engine's fixed format is converted
  // (espeak_engine_test). Here: stereo float at 48 kHz.
  auto engine = FastMock();
  Collector out;
  v1::SynthesisConfig config = Config(50);
  config.mutable_output_format()->set_format(v1::FLOAT32);
  config.mutable_output_format()->set_sample_rate(48000);
  config.mutable_output_format()->set_channels(2);
  auto session = *TtsSession::Create(&engine, config, out.Sink());
  ASSERT_TRUE(session->PushText(Piece("Stereo please. ")).ok());
  ASSERT_FALSE(out.responses.empty());
  EXPECT_EQ(out.responses[0].audio().format(), v1::FLOAT32);
  EXPECT_EQ(out.responses[0].audio().channels(), 2);
  EXPECT_EQ(out.responses[0].audio().data().size() % 8, 0u);
}

TEST(TtsSessionTest, OpusOutputIsOne20MsPacketPerChunk) {
  auto engine = FastMock();
  Collector pcm_out, opus_out;
  auto pcm = *TtsSession::Create(&engine, Config(20), pcm_out.Sink());
  v1::SynthesisConfig config = Config(0);
  config.mutable_output_format()->set_format(v1::OPUS);
  auto opus = *TtsSession::Create(&engine, config, opus_out.Sink());
  for (TtsSession* session : {pcm.get(), opus.get()}) {
    ASSERT_TRUE(session->PushText(Piece("Hello there. This is a reply! ")).ok());
    ASSERT_TRUE(session->Finish().ok());
  }
  auto decoder = *OpusStreamDecoder::Create(MakeStreamFormat(v1::OPUS, 16000, 1));
  std::string decoded;
  size_t packets = 0;
  for (const v1::SynthesizeResponse& r : opus_out.responses) {
    EXPECT_EQ(r.audio().format(), v1::OPUS);
    if (r.audio().data().empty()) continue;  // The final, empty response.
    ++packets;
    absl::StatusOr<std::string> pcm16 = decoder->Decode(r.audio().data(), r.audio().sequence() + 1);
    ASSERT_TRUE(pcm16.ok()) << pcm16.status();
    EXPECT_EQ(pcm16->size(), 640u) << "each chunk one 20 ms packet";
    decoded += *pcm16;
  }
  // Each sentence's tail is padded into a last packet: at most 20 ms more per sentence.
  const size_t pcm_bytes =
      pcm_out.AudioOf("Hello there.").size() + pcm_out.AudioOf("This is a reply!").size();
  EXPECT_GE(decoded.size(), pcm_bytes);
  EXPECT_LE(decoded.size(), pcm_bytes + 2 * 640);
  EXPECT_EQ(packets * 640, decoded.size());
  // Opus comes in 20 ms packets only.
  config.set_chunk_duration_ms(40);
  EXPECT_THAT(TtsSession::Create(&engine, config, opus_out.Sink()).status().message(),
              HasSubstr("OPUS output comes in 20 ms packets"));
}

TEST(TtsSessionTest, BadConfigsNameTheProblem) {
  auto engine = FastMock();
  auto error = [&](v1::SynthesisConfig config) {
    return TtsSession::Create(&engine, config, [](v1::SynthesizeResponse) {}).status();
  };
  v1::SynthesisConfig config = Config();
  config.mutable_output_format()->set_sample_rate(1000000);
  EXPECT_THAT(error(config).message(), HasSubstr("config.output_format.sample_rate 1000000"));
  config = Config(5);
  EXPECT_THAT(error(config).message(), HasSubstr("config.chunk_duration_ms 5"));
  config = Config();
  config.set_speaking_rate(10);
  EXPECT_THAT(error(config).message(), HasSubstr("config.speaking_rate 10"));
  config = Config();
  config.set_voice("nobody");
  EXPECT_THAT(error(config).message(), HasSubstr("unknown voice 'nobody'"));
  {
    mocks::MockTtsEngine engine;
    auto session = TtsSession::Create(&engine, Config(), [](v1::SynthesizeResponse) {});
    ASSERT_TRUE(session.ok());
    v1::TextPiece piece;
    piece.set_text("caf\xe9");  // Latin-1, not UTF-8: once spoken as nothing, with OK.
    EXPECT_THAT((*session)->PushText(piece).message(),
                HasSubstr("text piece is not valid UTF-8 (at byte 3)"));
  }
  // A huge value is not echoed whole (it overflowed gRPC's metadata limit).
  config = Config();
  config.set_voice(std::string(64 * 1024, 'v'));
  EXPECT_LT(error(config).message().size(), 300u);
  EXPECT_THAT(error(config).message(), HasSubstr("... (65536 bytes)"));
  config = Config();
  config.set_language("xx-YY");
  EXPECT_THAT(error(config).message(), HasSubstr("no voice for language 'xx-YY'"));
  config = Config();
  config.set_language("en-AU");
  EXPECT_TRUE(error(config).ok()) << "falls back to another English voice";
}

TEST(TtsSessionTest, BadTextIsRejected) {
  auto engine = FastMock();
  auto session = *TtsSession::Create(
      &engine, Config(), [](v1::SynthesizeResponse) {},
      TtsLimits{.max_piece_bytes = 10, .max_stream_bytes = 15});
  EXPECT_EQ(session->PushText(Piece("")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(session->PushText(Piece("01234567890")).message(),
              HasSubstr("text piece of 11 bytes exceeds the limit of 10"));
  ASSERT_TRUE(session->PushText(Piece("0123456789")).ok());
  EXPECT_THAT(session->PushText(Piece("012345")).message(),
              HasSubstr("stream text exceeds the limit of 15 bytes"));
  ASSERT_TRUE(session->Finish().ok());
  EXPECT_EQ(session->PushText(Piece("more")).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(TtsSessionTest, EngineFailuresPropagate) {
  mocks::MockTtsEngine engine({.latency_ms = 0, .fail_after_chunks = 1});
  Collector out;
  auto session = *TtsSession::Create(&engine, Config(), out.Sink());
  EXPECT_EQ(session->PushText(Piece("This will fail midway. ")).code(),
            absl::StatusCode::kUnavailable);
}

TEST(TtsSessionTest, CancelStopsAHangingRender) {
  mocks::MockTtsEngine engine({.hang = true});
  auto session = *TtsSession::Create(&engine, Config(), [](v1::SynthesizeResponse) {});
  std::thread canceller([&] { session->Cancel(); });
  // Returns once cancelled (the mock waits in 5 ms steps), whichever thread ran first.
  EXPECT_EQ(session->PushText(Piece("Never spoken. ")).code(), absl::StatusCode::kCancelled);
  canceller.join();
  EXPECT_EQ(session->Flush().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace voxflow::tts
