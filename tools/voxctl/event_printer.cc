#include "tools/voxctl/event_printer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"

namespace voxflow::voxctl {
namespace {

constexpr int kBarWidth = 30;

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.1f s", absl::ToDoubleSeconds(d));
}

std::string CodeName(int code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

}  // namespace

std::string FormatLatency(const v1::LatencyBreakdown& latency, const std::string& indent) {
  std::string text;
  auto row = [&](const char* label, int64_t ms) {
    absl::StrAppend(&text, indent, absl::StrFormat("%-34s", label),
                    ms < 0 ? std::string("-") : absl::StrCat(ms, " ms"), "\n");
  };
  row("end of speech -> end of turn", latency.endpointing_delay_ms());
  row("end of speech -> final transcript", latency.end_of_speech_to_final_transcript_ms());
  row("llm first token", latency.llm_first_token_ms());
  row("tts first byte", latency.tts_first_byte_ms());
  row("voice-to-voice", latency.voice_to_voice_ms());
  row("turn total", latency.turn_total_ms());
  if (!latency.stage_duration_ms().empty()) {
    // Sorted by name so that the output is stable.
    std::map<std::string, int64_t> stages(latency.stage_duration_ms().begin(),
                                          latency.stage_duration_ms().end());
    absl::StrAppend(&text, indent, "stages: ",
                    absl::StrJoin(stages, ", ",
                                  [](std::string* out, const auto& stage) {
                                    absl::StrAppend(out, stage.first, " ", stage.second, " ms");
                                  }),
                    "\n");
  }
  return text;
}

void TextPrinter::PrintLineLocked(const std::string& line) {
  if (status_shown_) {
    out_ << "\r\033[K";
    status_shown_ = false;
  }
  out_ << line << "\n" << std::flush;
}

void TextPrinter::StatusLineLocked(const std::string& status) {
  out_ << "\r\033[K" << status << std::flush;
  status_shown_ = true;
}

void TextPrinter::OnAudioSent(absl::Duration sent, absl::Duration total) {
  std::lock_guard<std::mutex> lock(mu_);
  if (terminal_) {
    const double share = std::clamp(absl::FDivDuration(sent, total), 0.0, 1.0);
    const int filled = static_cast<int>(share * kBarWidth + 0.5);
    StatusLineLocked(absl::StrCat(
        "[", std::string(filled, '#'), std::string(kBarWidth - filled, '-'), "] ", Seconds(sent),
        " / ", Seconds(total), " sent", last_interim_.empty() ? "" : "  | heard: ", last_interim_));
    return;
  }
  const int64_t whole = absl::ToInt64Seconds(sent);
  if (sent >= total) {
    PrintLineLocked(absl::StrCat("sent all ", Seconds(total), " of audio"));
  } else if (whole > progress_printed_s_ && whole > 0) {
    PrintLineLocked(absl::StrCat("sent ", Seconds(sent), " of ", Seconds(total)));
  }
  progress_printed_s_ = std::max(progress_printed_s_, whole);
}

void TextPrinter::OnEvent(const v1::ConverseEvent& event, absl::Duration elapsed) {
  std::lock_guard<std::mutex> lock(mu_);
  switch (event.event_case()) {
    case v1::ConverseEvent::kSessionStarted: {
      const v1::SessionStarted& started = event.session_started();
      PrintLineLocked(absl::StrCat(
          "session ", started.session_id(),
          started.resumed() ? absl::StrCat(" resumed after turn ", started.last_turn_id()) : "",
          ": pipeline ", started.pipeline(), " (", absl::StrJoin(started.stages(), ", "), ")"));
      break;
    }
    case v1::ConverseEvent::kTranscript: {
      const v1::TranscriptEvent& transcript = event.transcript();
      if (!transcript.is_final()) {
        if (transcript.text() == last_interim_) break;
        last_interim_ = transcript.text();
        if (terminal_) {
          StatusLineLocked(absl::StrCat("heard so far: ", last_interim_));
        } else {
          PrintLineLocked(absl::StrCat("  ... ", last_interim_));
        }
        break;
      }
      last_interim_.clear();
      PrintLineLocked(
          absl::StrFormat("you (turn %d): %s", transcript.turn_id(),
                          transcript.text().empty() ? "(nothing heard)" : transcript.text()));
      break;
    }
    case v1::ConverseEvent::kReplyText: {
      const v1::ReplyText& text = event.reply_text();
      std::string& reply = reply_[text.turn_id()];
      reply += text.text();
      if (text.is_final()) {
        PrintLineLocked(absl::StrFormat("voxflow (turn %d): %s", text.turn_id(), reply));
      }
      break;
    }
    case v1::ConverseEvent::kReplyAudio: {
      int64_t& bytes = reply_audio_bytes_[event.reply_audio().turn_id()];
      bytes += static_cast<int64_t>(event.reply_audio().audio().data().size());
      if (terminal_) {
        StatusLineLocked(
            absl::StrCat("receiving reply audio (", bytes, " bytes) at ", Seconds(elapsed)));
      }
      break;
    }
    case v1::ConverseEvent::kStage: {
      const v1::StageEvent& stage = event.stage();
      if (stage.status() == v1::StageEvent::FAIL || stage.status() == v1::StageEvent::RETRY) {
        PrintLineLocked(
            absl::StrFormat("  stage %s %s (attempt %d): %s", stage.stage(),
                            stage.status() == v1::StageEvent::FAIL ? "failed" : "retried",
                            stage.attempt(), stage.error()));
      }
      break;
    }
    case v1::ConverseEvent::kUserSpeech: {
      const v1::UserSpeech& speech = event.user_speech();
      PrintLineLocked(
          absl::StrFormat("  (you %s speaking at %.2f s)",
                          speech.type() == v1::UserSpeech::STARTED ? "started" : "stopped",
                          static_cast<double>(speech.stream_ms()) / 1000.0));
      break;
    }
    case v1::ConverseEvent::kReconnect:
      PrintLineLocked(absl::StrCat("moving to another server: ", event.reconnect().reason()));
      break;
    case v1::ConverseEvent::kError: {
      const v1::ErrorEvent& error = event.error();
      PrintLineLocked(absl::StrFormat("error (turn %d%s): %s: %s%s", error.turn_id(),
                                      error.stage().empty() ? "" : ", stage " + error.stage(),
                                      CodeName(error.code()), error.message(),
                                      error.recoverable() ? " (the session goes on)" : ""));
      break;
    }
    case v1::ConverseEvent::kTurnCompleted: {
      const v1::TurnCompleted& turn = event.turn_completed();
      std::string text = absl::StrFormat("turn %d completed%s", turn.turn_id(),
                                         turn.interrupted() ? " (interrupted by barge-in)" : "");
      if (!turn.degradations().empty()) {
        absl::StrAppend(&text, ", degraded: ", absl::StrJoin(turn.degradations(), ", "));
      }
      absl::StrAppend(&text, "\n  latency:\n", FormatLatency(turn.latency(), "    "));
      text.pop_back();  // PrintLineLocked ends the line.
      PrintLineLocked(text);
      break;
    }
    default:
      break;
  }
}

void TextPrinter::Done() {
  std::lock_guard<std::mutex> lock(mu_);
  if (status_shown_) {
    out_ << "\r\033[K" << std::flush;
    status_shown_ = false;
  }
}

void JsonPrinter::OnEvent(const v1::ConverseEvent& event, absl::Duration elapsed) {
  google::protobuf::util::JsonPrintOptions json_options;
  json_options.preserve_proto_field_names = true;
  std::string json;
  int64_t audio_bytes = -1;
  if (event.has_reply_audio()) {
    v1::ConverseEvent copy = event;
    audio_bytes = static_cast<int64_t>(copy.reply_audio().audio().data().size());
    copy.mutable_reply_audio()->mutable_audio()->clear_data();
    (void)google::protobuf::util::MessageToJsonString(copy, &json, json_options);
  } else {
    (void)google::protobuf::util::MessageToJsonString(event, &json, json_options);
  }
  std::string line =
      absl::StrCat("{\"elapsed_ms\":", absl::ToInt64Milliseconds(elapsed), ",\"event\":", json);
  if (audio_bytes >= 0) absl::StrAppend(&line, ",\"audio_bytes\":", audio_bytes);
  line += "}\n";
  std::lock_guard<std::mutex> lock(mu_);
  out_ << line << std::flush;
}

}  // namespace voxflow::voxctl
