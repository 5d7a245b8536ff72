#include "tools/voxctl/event_printer.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow::voxctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::ConverseEvent Transcript(const std::string& text, bool is_final) {
  v1::ConverseEvent event;
  event.mutable_transcript()->set_text(text);
  event.mutable_transcript()->set_is_final(is_final);
  event.mutable_transcript()->set_turn_id(1);
  return event;
}

v1::ConverseEvent Reply(const std::string& text, bool is_final) {
  v1::ConverseEvent event;
  event.mutable_reply_text()->set_text(text);
  event.mutable_reply_text()->set_is_final(is_final);
  event.mutable_reply_text()->set_turn_id(1);
  return event;
}

v1::ConverseEvent Completed() {
  v1::ConverseEvent event;
  v1::TurnCompleted* turn = event.mutable_turn_completed();
  turn->set_turn_id(1);
  turn->add_degradations("stt_timeout");
  v1::LatencyBreakdown* latency = turn->mutable_latency();
  latency->set_end_of_speech_to_final_transcript_ms(12);
  latency->set_llm_first_token_ms(3);
  latency->set_tts_first_byte_ms(-1);
  latency->set_voice_to_voice_ms(95);
  latency->set_turn_total_ms(400);
  (*latency->mutable_stage_duration_ms())["stt"] = 300;
  (*latency->mutable_stage_duration_ms())["llm"] = 4;
  return event;
}

TEST(FormatLatencyTest, AlignedRowsAndSortedStages) {
  const std::string text = FormatLatency(Completed().turn_completed().latency(), "  ");
  EXPECT_THAT(text, HasSubstr("  end of speech -> final transcript 12 ms\n"));
  EXPECT_THAT(text, HasSubstr("  tts first byte                    -\n"));
  EXPECT_THAT(text, HasSubstr("  voice-to-voice                    95 ms\n"));
  EXPECT_THAT(text, HasSubstr("  stages: llm 4 ms, stt 300 ms\n"));
}

TEST(TextPrinterTest, PlainLinesWhenNotATerminal) {
  std::ostringstream out;
  TextPrinter printer(out, /*terminal=*/false);
  printer.OnAudioSent(absl::Milliseconds(500), absl::Milliseconds(2500));
  printer.OnAudioSent(absl::Milliseconds(1020), absl::Milliseconds(2500));
  printer.OnAudioSent(absl::Milliseconds(1040), absl::Milliseconds(2500));
  printer.OnEvent(Transcript("what is", false), absl::Seconds(1));
  printer.OnEvent(Transcript("what is", false), absl::Seconds(1));  // Unchanged: not repeated.
  printer.OnAudioSent(absl::Milliseconds(2500), absl::Milliseconds(2500));
  printer.OnEvent(Transcript("what is the weather", true), absl::Seconds(3));
  printer.OnEvent(Reply("It is ", false), absl::Seconds(3));
  printer.OnEvent(Reply("sunny.", true), absl::Seconds(3));
  printer.OnEvent(Completed(), absl::Seconds(4));
  printer.Done();
  EXPECT_EQ(out.str(),
            "sent 1.0 s of 2.5 s\n"
            "  ... what is\n"
            "sent all 2.5 s of audio\n"
            "you (turn 1): what is the weather\n"
            "voxflow (turn 1): It is sunny.\n"
            "turn 1 completed, degraded: stt_timeout\n"
            "  latency:\n" +
                FormatLatency(Completed().turn_completed().latency(), "    "));
  EXPECT_THAT(out.str(), Not(HasSubstr("\r")));
}

TEST(TextPrinterTest, ProgressBarOnATerminal) {
  std::ostringstream out;
  TextPrinter printer(out, /*terminal=*/true);
  printer.OnAudioSent(absl::Seconds(1), absl::Seconds(2));
  EXPECT_THAT(out.str(), HasSubstr("\r\033[K[###############---------------] 1.0 s / 2.0 s sent"));
  printer.OnEvent(Transcript("hello", true), absl::Seconds(2));
  // The progress line is cleared before a line of its own is printed.
  EXPECT_THAT(out.str(), HasSubstr("sent\r\033[Kyou (turn 1): hello\n"));
}

TEST(TextPrinterTest, ErrorsAndFailedStagesArePrinted) {
  std::ostringstream out;
  TextPrinter printer(out, /*terminal=*/false);
  v1::ConverseEvent stage;
  stage.mutable_stage()->set_stage("stt");
  stage.mutable_stage()->set_status(v1::StageEvent::FAIL);
  stage.mutable_stage()->set_attempt(2);
  stage.mutable_stage()->set_error("UNAVAILABLE: stt gone");
  printer.OnEvent(stage, absl::Seconds(1));
  v1::ConverseEvent error;
  error.mutable_error()->set_code(14);
  error.mutable_error()->set_message("stt gone");
  error.mutable_error()->set_stage("stt");
  error.mutable_error()->set_turn_id(1);
  error.mutable_error()->set_recoverable(true);
  printer.OnEvent(error, absl::Seconds(1));
  EXPECT_EQ(out.str(),
            "  stage stt failed (attempt 2): UNAVAILABLE: stt gone\n"
            "error (turn 1, stage stt): UNAVAILABLE: stt gone (the session goes on)\n");
}

TEST(JsonPrinterTest, OneObjectPerLineWithoutAudioBytes) {
  std::ostringstream out;
  JsonPrinter printer(out);
  printer.OnEvent(Transcript("hi", true), absl::Milliseconds(120));
  v1::ConverseEvent audio;
  audio.mutable_reply_audio()->mutable_audio()->set_data(std::string(640, 'x'));
  audio.mutable_reply_audio()->set_turn_id(1);
  printer.OnEvent(audio, absl::Milliseconds(130));
  EXPECT_EQ(out.str(),
            "{\"elapsed_ms\":120,\"event\":{\"transcript\":{\"text\":\"hi\",\"is_final\":true,"
            "\"turn_id\":1}}}\n"
            "{\"elapsed_ms\":130,\"event\":{\"reply_audio\":{\"audio\":{},\"turn_id\":1}},"
            "\"audio_bytes\":640}\n");
}

}  // namespace
}  // namespace voxflow::voxctl
