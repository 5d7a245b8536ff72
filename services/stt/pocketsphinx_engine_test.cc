// Recognition of real speech: espeak-ng renders English sentences, pocketsphinx transcribes them.
#include "services/stt/pocketsphinx_engine.h"

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/common/opus_codec.h"
#include "services/stt/stt_session.h"
#include "services/tts/render_speech.h"

namespace voxflow::stt {
namespace {

v1::AudioStreamFormat Pcm16(int rate) {
  v1::AudioStreamFormat format;
  format.set_format(v1::PCM16);
  format.set_sample_rate(rate);
  format.set_channels(1);
  return format;
}

// `text` spoken by espeak-ng at `rate`, followed by a second of silence.
std::string Speech(const std::string& text, int rate) {
  absl::StatusOr<std::string> audio = tts::RenderSpeech(text, rate);
  EXPECT_TRUE(audio.ok()) << audio.status();
  return audio.ok() ? *audio : "";
}

std::set<std::string> Words(const std::string& text) {
  std::set<std::string> words;
  for (absl::string_view w :
       absl::StrSplit(absl::AsciiStrToLower(text), absl::ByAnyChar(" ,.!?"), absl::SkipEmpty())) {
    words.emplace(w);
  }
  return words;
}

double SharedWords(const std::string& said, const std::string& heard) {
  const std::set<std::string> a = Words(said), b = Words(heard);
  int shared = 0;
  for (const std::string& w : a) shared += b.count(w);
  return a.empty() ? 0 : static_cast<double>(shared) / a.size();
}

struct Results {
  std::vector<v1::RecognizeResponse> responses;
  std::string Final() const {
    std::vector<std::string> texts;
    for (const auto& r : responses) {
      if (r.has_transcript() && r.transcript().is_final() && !r.transcript().text().empty()) {
        texts.push_back(r.transcript().text());
      }
    }
    std::ostringstream out;
    for (size_t i = 0; i < texts.size(); ++i) out << (i ? " " : "") << texts[i];
    return out.str();
  }
};

Results Recognize(PocketsphinxEngine& engine, const std::string& audio, int rate,
                  bool interim = true) {
  v1::RecognitionConfig config;
  config.set_language("en-US");
  *config.mutable_audio_format() = Pcm16(rate);
  config.set_interim_results(interim);
  config.set_word_times(true);
  Results results;
  auto session = SttSession::Create(
      &engine, config, [&](v1::RecognizeResponse r) { results.responses.push_back(std::move(r)); });
  EXPECT_TRUE(session.ok()) << session.status();
  const size_t chunk = static_cast<size_t>(rate) / 50 * 2;  // 20 ms.
  for (size_t at = 0; at < audio.size(); at += chunk) {
    v1::AudioChunk c;
    c.set_format(v1::PCM16);
    c.set_sample_rate(rate);
    c.set_channels(1);
    c.set_data(audio.substr(at, chunk));
    EXPECT_TRUE((*session)->PushAudio(c).ok());
  }
  EXPECT_TRUE((*session)->FinishAndWait().ok());
  return results;
}

class PocketsphinxEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto engine = PocketsphinxEngine::Create();
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = engine->release();
  }
  static void TearDownTestSuite() { delete engine_; }
  static PocketsphinxEngine* engine_;
};

PocketsphinxEngine* PocketsphinxEngineTest::engine_ = nullptr;

TEST_F(PocketsphinxEngineTest, TranscribesSpeechWithInterimsFirst) {
  const std::string said = "the weather is nice today";
  const Results results = Recognize(*engine_, Speech(said, 16000), 16000);
  const std::string heard = results.Final();
  EXPECT_GE(SharedWords(said, heard), 0.5) << "heard: " << heard;
  // Speech started, interim hypotheses, then the final one, then end of utterance.
  int first_interim = -1, first_final = -1, speech_started = -1, end_of_utterance = -1;
  for (size_t i = 0; i < results.responses.size(); ++i) {
    const auto& r = results.responses[i];
    if (r.has_speech_event() && r.speech_event().type() == v1::SpeechEvent::SPEECH_STARTED &&
        speech_started < 0) {
      speech_started = static_cast<int>(i);
    }
    if (r.has_speech_event() && r.speech_event().type() == v1::SpeechEvent::END_OF_UTTERANCE &&
        end_of_utterance < 0) {
      end_of_utterance = static_cast<int>(i);
    }
    if (r.has_transcript() && !r.transcript().is_final() && first_interim < 0) {
      first_interim = static_cast<int>(i);
    }
    if (r.has_transcript() && r.transcript().is_final() && first_final < 0) {
      first_final = static_cast<int>(i);
    }
  }
  ASSERT_GE(speech_started, 0);
  ASSERT_GE(first_interim, 0);
  ASSERT_GE(first_final, 0);
  EXPECT_LT(speech_started, first_interim);
  EXPECT_LT(first_interim, first_final);
  EXPECT_LT(first_final, end_of_utterance);
  const v1::Transcript& final = results.responses[first_final].transcript();
  EXPECT_EQ(final.provider(), "pocketsphinx");
  EXPECT_GT(final.end_ms(), final.start_ms());
  EXPECT_GT(final.words_size(), 0);
}

TEST_F(PocketsphinxEngineTest, AStreamsResultDoesNotDependOnEarlierStreams) {
  // A fresh engine: its one decoder serves every stream in turn.
  auto engine = PocketsphinxEngine::Create();
  ASSERT_TRUE(engine.ok());
  const std::string clip = Speech("hello how are you today", 16000);
  const std::string first = Recognize(**engine, clip, 16000, false).Final();
  Recognize(**engine, Speech("the quick brown fox jumps over the lazy dog", 16000), 16000, false);
  Recognize(**engine, std::string(16000 * 4, '\0'), 16000, false);
  EXPECT_EQ(Recognize(**engine, clip, 16000, false).Final(), first);
  EXPECT_EQ(Recognize(**engine, clip, 16000, false).Final(), first);
}

TEST_F(PocketsphinxEngineTest, ResamplesOtherRates) {
  const std::string said = "hello world how are you";
  const std::string heard = Recognize(*engine_, Speech(said, 44100), 44100, false).Final();
  EXPECT_GE(SharedWords(said, heard), 0.4) << "heard: " << heard;
}

TEST_F(PocketsphinxEngineTest, TelephonyAudioGetsANarrowbandDecoder) {
  // 8 kHz audio, upsampled to the model's rate, has nothing above 4 kHz: its decoders cap the
  // search (bench/telephony_bench measures the speed); wideband audio keeps the full search.
  v1::RecognitionConfig config;
  *config.mutable_audio_format() = Pcm16(8000);
  EXPECT_TRUE(engine_->KindFor(config).narrowband);
  *config.mutable_audio_format() = Pcm16(16000);
  EXPECT_FALSE(engine_->KindFor(config).narrowband);
  *config.mutable_audio_format() = Pcm16(44100);
  EXPECT_FALSE(engine_->KindFor(config).narrowband);
  // And it is still heard.
  const std::string narrow = Speech("hello world how are you", 8000);
  const std::string heard = Recognize(*engine_, narrow, 8000, false).Final();
  EXPECT_FALSE(heard.empty());
}

// espeak-ng -> Opus (20 ms packets, one per chunk) -> STT: the words PCM16 gets.
TEST_F(PocketsphinxEngineTest, OpusPacketsAreHeardAsPcm16Is) {
  const std::string said = "hello world how are you";
  for (int rate : {16000, 48000}) {
    const std::string speech = Speech(said, rate);
    const std::string pcm_heard = Recognize(*engine_, speech, rate, false).Final();
    auto encoder = *OpusStreamEncoder::Create(MakeStreamFormat(v1::OPUS, rate, 1));
    std::vector<std::string> packets = *encoder->Encode(speech);
    std::vector<std::string> last = *encoder->Flush();
    packets.insert(packets.end(), last.begin(), last.end());
    v1::RecognitionConfig config;
    config.set_language("en-US");
    *config.mutable_audio_format() = MakeStreamFormat(v1::OPUS, rate, 1);
    Results results;
    auto session = SttSession::Create(engine_, config, [&](v1::RecognizeResponse r) {
      results.responses.push_back(std::move(r));
    });
    ASSERT_TRUE(session.ok()) << session.status();
    uint64_t sequence = 0;
    for (const std::string& packet : packets) {
      v1::AudioChunk chunk;
      chunk.set_format(v1::OPUS);
      chunk.set_sample_rate(rate);
      chunk.set_channels(1);
      chunk.set_sequence(++sequence);
      chunk.set_data(packet);
      ASSERT_TRUE((*session)->PushAudio(chunk).ok());
    }
    ASSERT_TRUE((*session)->FinishAndWait().ok());
    EXPECT_NEAR((*session)->audio_ms(), 1000.0 * speech.size() / 2 / rate, 20);
    EXPECT_GE(SharedWords(said, results.Final()), SharedWords(said, pcm_heard))
        << rate << " Hz: Opus heard '" << results.Final() << "', PCM16 '" << pcm_heard << "'";
  }
}

TEST_F(PocketsphinxEngineTest, CorruptOpusIsRefusedNamingTheChunk) {
  v1::RecognitionConfig config;
  config.set_language("en-US");
  *config.mutable_audio_format() = MakeStreamFormat(v1::OPUS, 16000, 1);
  auto session = SttSession::Create(engine_, config, [](v1::RecognizeResponse) {});
  ASSERT_TRUE(session.ok());
  v1::AudioChunk chunk;
  chunk.set_format(v1::OPUS);
  chunk.set_sample_rate(16000);
  chunk.set_channels(1);
  chunk.set_sequence(3);
  chunk.set_data(std::string("\xff\xff\xff", 3));
  absl::Status status = (*session)->PushAudio(chunk);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), ::testing::HasSubstr("audio chunk 3"));
  // An Opus stream at a rate Opus does not code is refused at config time.
  *config.mutable_audio_format() = MakeStreamFormat(v1::OPUS, 44100, 1);
  EXPECT_THAT(SttSession::Create(engine_, config, [](v1::RecognizeResponse) {}).status().message(),
              ::testing::HasSubstr("config.audio_format.sample_rate 44100 is not an Opus rate"));
}

TEST_F(PocketsphinxEngineTest, SilenceGivesAnEmptyFinal) {
  const Results results = Recognize(*engine_, std::string(16000 * 2, '\0'), 16000);
  ASSERT_FALSE(results.responses.empty());
  const auto& last = results.responses.back();
  ASSERT_TRUE(last.has_transcript());
  EXPECT_TRUE(last.transcript().is_final());
  EXPECT_EQ(last.transcript().text(), "");
}

TEST_F(PocketsphinxEngineTest, OnlyEnglish) {
  v1::RecognitionConfig config;
  config.set_language("de-DE");
  *config.mutable_audio_format() = Pcm16(16000);
  EXPECT_THAT(SttSession::ValidateConfig(*engine_, config, {}).message(),
              ::testing::HasSubstr("config.language 'de-DE' is not supported by pocketsphinx"));
}

}  // namespace
}  // namespace voxflow::stt
