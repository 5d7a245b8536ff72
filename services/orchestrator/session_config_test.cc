// Session config without a session: each field checked and named, the server's defaults filled
// in, the session's parts built.
#include "services/orchestrator/session_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/orchestrator/pipeline/pipeline_spec_loader.h"
#include "services/orchestrator/testing/fake_session_stages.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::HasSubstr;

class SessionConfigTest : public ::testing::Test {
 protected:
  SessionConfigTest() {
    registry_ = testing::FakePipelines();
    services_.pipelines = registry_.get();
    services_.vad_factory = testing::LoudnessVadFactory();
  }

  static v1::SessionConfig Pcm16() {
    v1::SessionConfig config;
    config.mutable_input_format()->set_format(v1::PCM16);
    config.mutable_input_format()->set_sample_rate(16000);
    config.mutable_input_format()->set_channels(1);
    *config.mutable_output_format() = config.input_format();
    return config;
  }

  absl::StatusOr<SessionSetup> Build(const v1::SessionConfig& config) {
    return BuildSessionSetup(config, services_, [](std::string) {
      return [](absl::string_view, const streaming::EventAttributes&) {};
    });
  }

  std::unique_ptr<PipelineRegistry> registry_;
  SessionServices services_;
};

TEST_F(SessionConfigTest, TheServerDefaultsAreFilledInForTheStages) {
  services_.options.endpointing.silence_ms = 700;
  services_.options.barge_in.min_words = 2;
  v1::SessionConfig config = Pcm16();
  config.mutable_endpointing()->set_min_speech_ms(300);
  absl::StatusOr<SessionSetup> setup = Build(config);
  ASSERT_TRUE(setup.ok()) << setup.status();
  EXPECT_EQ(setup->config->endpointing().silence_ms(), 700);
  EXPECT_EQ(setup->config->endpointing().min_speech_ms(), 300);
  EXPECT_EQ(setup->endpointing.min_speech_ms, 300);
  EXPECT_EQ(setup->config->barge_in().min_words(), 2);
  EXPECT_TRUE(setup->config->barge_in().enabled());
  EXPECT_EQ(setup->config->language(), "en-US");
  EXPECT_EQ(setup->pipeline->name(), "fake");
  EXPECT_EQ(setup->input_target_ms, services_.options.input_target_ms);
  EXPECT_NE(setup->input_buffer, nullptr);
  EXPECT_NE(setup->playout, nullptr);
  EXPECT_NE(setup->vad, nullptr);
  EXPECT_EQ(setup->opus_in, nullptr);
}

TEST_F(SessionConfigTest, TheVoiceDetectorIsTheServersUnlessChosenAndAnUnknownOneIsNamed) {
  std::vector<v1::VoiceDetector> asked;
  services_.vad_factory = [&asked](const v1::AudioStreamFormat& format, v1::VoiceDetector kind,
                                   bool behind_echo_canceller) {
    asked.push_back(kind);
    return testing::LoudnessVadFactory()(format, kind, behind_echo_canceller);
  };
  services_.options.voice_detector = v1::VOICE_DETECTOR_WEBRTC;
  v1::SessionConfig config = Pcm16();
  absl::StatusOr<SessionSetup> setup = Build(config);
  ASSERT_TRUE(setup.ok()) << setup.status();
  EXPECT_EQ(setup->config->voice_detector(), v1::VOICE_DETECTOR_WEBRTC);
  config.set_voice_detector(v1::VOICE_DETECTOR_NOISE_ROBUST);
  setup = Build(config);
  ASSERT_TRUE(setup.ok()) << setup.status();
  EXPECT_EQ(setup->config->voice_detector(), v1::VOICE_DETECTOR_NOISE_ROBUST);
  EXPECT_EQ(asked, (std::vector<v1::VoiceDetector>{v1::VOICE_DETECTOR_WEBRTC,
                                                   v1::VOICE_DETECTOR_NOISE_ROBUST}));
  config.set_voice_detector(static_cast<v1::VoiceDetector>(7));
  const absl::Status status = Build(config).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("config.voice_detector: unknown value 7"));
}

TEST_F(SessionConfigTest, EchoCancellationIsOffUnlessAskedAndOnNeedsAFormatItCanClean) {
  v1::SessionConfig config = Pcm16();
  absl::StatusOr<SessionSetup> setup = Build(config);
  ASSERT_TRUE(setup.ok()) << setup.status();
  EXPECT_EQ(setup->config->echo_cancellation(), v1::ECHO_CANCELLATION_OFF);
  EXPECT_EQ(setup->echo, nullptr);
  config.set_echo_cancellation(v1::ECHO_CANCELLATION_AUTO);
  setup = Build(config);
  ASSERT_TRUE(setup.ok()) << setup.status();
  ASSERT_NE(setup->echo, nullptr);
  EXPECT_FALSE(setup->echo->stats().engaged) << "AUTO watches for an echo first";
  // A phone line: AUTO cancels from the start.
  config.set_echo_cancellation(v1::ECHO_CANCELLATION_AUTO);
  *config.mutable_input_format() = MakeStreamFormat(v1::MULAW, 8000, 1);
  setup = Build(config);
  ASSERT_TRUE(setup.ok()) << setup.status();
  ASSERT_NE(setup->echo, nullptr);
  EXPECT_TRUE(setup->echo->stats().engaged);
  config = Pcm16();
  config.set_echo_cancellation(v1::ECHO_CANCELLATION_ON);
  setup = Build(config);
  ASSERT_TRUE(setup.ok()) << setup.status();
  EXPECT_NE(setup->echo, nullptr);
  services_.options.echo_cancellation = v1::ECHO_CANCELLATION_ON;
  config.clear_echo_cancellation();
  setup = Build(config);
  ASSERT_TRUE(setup.ok()) << setup.status();
  EXPECT_EQ(setup->config->echo_cancellation(), v1::ECHO_CANCELLATION_ON);
  // Stereo input: nothing the canceller can clean sample for sample.
  config.set_echo_cancellation(v1::ECHO_CANCELLATION_ON);
  config.mutable_input_format()->set_channels(2);
  absl::Status status = Build(config).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("config.echo_cancellation: echo cancellation needs mono"));
  // AUTO on the same input: no canceller, no error.
  config.set_echo_cancellation(v1::ECHO_CANCELLATION_AUTO);
  setup = Build(config);
  ASSERT_TRUE(setup.ok()) << setup.status();
  EXPECT_EQ(setup->echo, nullptr);
  config = Pcm16();
  config.set_echo_cancellation(static_cast<v1::EchoCancellation>(9));
  EXPECT_THAT(Build(config).status().message(),
              HasSubstr("config.echo_cancellation: unknown value 9"));
}

// The noise-robust detector adds WebRTC's GMM behind a canceller (what it leaves of the reply is
// a voice): the factory is told whether the session has one.
TEST_F(SessionConfigTest, TheDetectorKnowsWhetherItListensBehindAnEchoCanceller) {
  std::vector<bool> behind;
  services_.vad_factory = [&behind](const v1::AudioStreamFormat& format, v1::VoiceDetector kind,
                                    bool behind_echo_canceller) {
    behind.push_back(behind_echo_canceller);
    return testing::LoudnessVadFactory()(format, kind, behind_echo_canceller);
  };
  v1::SessionConfig config = Pcm16();
  for (const v1::EchoCancellation echo :
       {v1::ECHO_CANCELLATION_OFF, v1::ECHO_CANCELLATION_AUTO, v1::ECHO_CANCELLATION_ON}) {
    config.set_echo_cancellation(echo);
    ASSERT_TRUE(Build(config).ok());
  }
  // AUTO on input the canceller cannot clean: no canceller.
  config.mutable_input_format()->set_channels(2);
  config.set_echo_cancellation(v1::ECHO_CANCELLATION_AUTO);
  ASSERT_TRUE(Build(config).ok());
  EXPECT_EQ(behind, (std::vector<bool>{false, true, true, false}));
}

TEST_F(SessionConfigTest, OpusIsHandledAsPcm16Inside) {
  v1::SessionConfig config = Pcm16();
  config.mutable_input_format()->set_format(v1::OPUS);
  config.mutable_input_format()->set_sample_rate(48000);
  absl::StatusOr<SessionSetup> setup = Build(config);
  ASSERT_TRUE(setup.ok()) << setup.status();
  EXPECT_EQ(setup->wire_input_format.format(), v1::OPUS);
  EXPECT_EQ(setup->config->input_format().format(), v1::PCM16);
  EXPECT_EQ(setup->config->input_format().sample_rate(), 48000);
  EXPECT_NE(setup->opus_in, nullptr);
}

TEST_F(SessionConfigTest, OutOfRangeTurnTakingSettingsNameTheField) {
  v1::SessionConfig config = Pcm16();
  config.mutable_endpointing()->set_max_utterance_ms(500);
  EXPECT_THAT(Build(config).status().message(),
              HasSubstr("config.endpointing.max_utterance_ms 500"));
  config = Pcm16();
  config.mutable_barge_in()->set_min_speech_ms(10);
  EXPECT_THAT(Build(config).status().message(), HasSubstr("config.barge_in.min_speech_ms 10"));
  config = Pcm16();
  config.mutable_endpointing()->set_max_utterance_ms(1000);
  config.mutable_endpointing()->set_min_speech_ms(1500);
  EXPECT_THAT(Build(config).status().message(),
              HasSubstr("max_utterance_ms 1000 must be longer than min_speech_ms 1500"));
}

TEST_F(SessionConfigTest, BadFieldsAreNamedAndClientValuesCut) {
  v1::SessionConfig config = Pcm16();
  config.set_pipeline(std::string(100 * 1024, 'p'));  // Not echoed whole.
  const absl::Status unknown = Build(config).status();
  EXPECT_THAT(unknown.message(), HasSubstr("config.pipeline: unknown pipeline 'ppp"));
  EXPECT_LT(unknown.message().size(), 300u);
  config = Pcm16();
  config.set_session_id("a b");
  EXPECT_THAT(Build(config).status().message(), HasSubstr("config.session_id may only use"));
  config = Pcm16();
  config.mutable_input_jitter_buffer()->set_max_delay_ms(-1);
  EXPECT_THAT(Build(config).status().message(),
              HasSubstr("config.input_jitter_buffer: durations must not be negative"));
  config = Pcm16();
  config.mutable_output_format()->set_sample_rate(0);
  EXPECT_THAT(Build(config).status().message(), HasSubstr("config.output_format"));
  config = Pcm16();
  config.mutable_llm()->set_temperature(5);
  EXPECT_THAT(Build(config).status().message(), HasSubstr("config.llm.temperature 5"));
}

TEST(CheckLlmSettingsTest, OutOfBoundsNameTheField) {
  v1::LlmSettings llm;
  llm.set_temperature(3);
  EXPECT_THAT(CheckLlmSettings(llm).message(),
              HasSubstr("config.llm.temperature 3 is not in 0..2"));
  llm.clear_temperature();
  llm.set_system_prompt(std::string(8001, 'a'));
  EXPECT_THAT(CheckLlmSettings(llm).message(), HasSubstr("config.llm.system_prompt of 8001 bytes"));
  llm.set_system_prompt(std::string("caf\xc3", 4));
  EXPECT_THAT(CheckLlmSettings(llm).message(), HasSubstr("config.llm.system_prompt"));
  llm.set_system_prompt("Be brief.");
  llm.set_model("llama3");
  llm.set_temperature(0.7f);
  EXPECT_TRUE(CheckLlmSettings(llm).ok());
}

}  // namespace
}  // namespace voxflow::orchestrator
