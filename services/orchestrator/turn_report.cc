#include "services/orchestrator/turn_report.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/logging.h"
#include "services/orchestrator/voice_metrics.h"
#include "spdlog/spdlog.h"

namespace voxflow::orchestrator {
namespace {

int64_t MsBetween(absl::Time from, absl::Time to) {
  if (from == absl::InfinitePast() || to == absl::InfinitePast()) return -1;
  return std::max<int64_t>(absl::ToInt64Milliseconds(to - from), 0);
}

}  // namespace

std::vector<v1::ConverseEvent> StageErrors(const Turn& turn) {
  std::vector<v1::ConverseEvent> events;
  for (const StageRecord& stage : turn.result.stages) {
    if (stage.outcome != StageOutcome::kFail) continue;
    v1::ConverseEvent event;
    v1::ErrorEvent* error = event.mutable_error();
    error->set_code(static_cast<int>(stage.error.code()));
    error->set_message(absl::StrCat("stage '", stage.name, "' failed: ", stage.error.message()));
    error->set_stage(stage.name);
    error->set_turn_id(turn.turn_id());
    error->set_recoverable(true);
    events.push_back(std::move(event));
  }
  for (const Turn::Degradation& degraded : turn.degradations()) {
    v1::ConverseEvent event;
    v1::ErrorEvent* error = event.mutable_error();
    error->set_code(static_cast<int>(degraded.why.code()));
    error->set_message(absl::StrCat("stage '", degraded.stage, "' failed: ", degraded.why.message(),
                                    " (its fallback was used)"));
    error->set_stage(degraded.stage);
    error->set_turn_id(turn.turn_id());
    error->set_recoverable(true);
    events.push_back(std::move(event));
  }
  return events;
}

v1::TurnCompleted TurnReport(const Turn& turn, const std::string& reply, absl::Time now) {
  v1::TurnCompleted completed;
  completed.set_turn_id(turn.turn_id());
  completed.set_transcript(turn.transcript());
  completed.set_reply(reply);
  completed.set_interrupted(turn.interrupted);
  for (const std::string& degradation : turn.result.degradations) {
    completed.add_degradations(degradation);
  }
  for (const Turn::Degradation& degraded : turn.degradations()) {
    completed.add_degradations(degraded.name);
  }
  // Every stage that failed is listed (those under DEGRADE already are, as _timeout or _failed).
  for (const StageRecord& stage : turn.result.stages) {
    if (stage.outcome != StageOutcome::kFail) continue;
    const auto& listed = completed.degradations();
    const bool named = std::any_of(listed.begin(), listed.end(), [&](const std::string& d) {
      return absl::StartsWith(d, absl::StrCat(stage.name, "_"));
    });
    if (!named) completed.add_degradations(absl::StrCat(stage.name, "_failed"));
  }
  const LlmReport llm = turn.llm_report();
  completed.mutable_llm_usage()->set_requests(llm.requests);
  if (llm.usage.has_value()) {
    completed.mutable_llm_usage()->set_prompt_tokens(llm.usage->prompt_tokens);
    completed.mutable_llm_usage()->set_completion_tokens(llm.usage->completion_tokens);
  }
  v1::LatencyBreakdown* latency = completed.mutable_latency();
  const absl::Time end_of_speech = turn.MarkTime(TurnMark::kEndOfSpeech);
  const absl::Time final_transcript = turn.MarkTime(TurnMark::kFinalTranscript);
  latency->set_end_of_speech_to_final_transcript_ms(MsBetween(end_of_speech, final_transcript));
  latency->set_endpointing_delay_ms(MsBetween(end_of_speech, turn.MarkTime(TurnMark::kEndOfTurn)));
  latency->set_llm_first_token_ms(
      MsBetween(turn.text_input().has_value() ? turn.start : final_transcript,
                turn.MarkTime(TurnMark::kLlmFirstToken)));
  latency->set_tts_first_byte_ms(
      MsBetween(turn.MarkTime(TurnMark::kFirstSentence), turn.MarkTime(TurnMark::kTtsFirstByte)));
  latency->set_voice_to_voice_ms(MsBetween(end_of_speech, turn.first_audio_sent));
  latency->set_turn_total_ms(MsBetween(turn.start, now));
  for (const StageRecord& stage : turn.result.stages) {
    if (stage.ran) {
      (*latency->mutable_stage_duration_ms())[stage.name] =
          absl::ToInt64Milliseconds(stage.duration());
    }
  }
  return completed;
}

CompletedTurn CompleteTurn(const Turn& turn, const PipelineGraph& pipeline,
                           const std::string& session_id, ConversationMemory& memory,
                           absl::Time now) {
  CompletedTurn done;
  const TurnResult& result = turn.result;
  const int id = turn.turn_id();
  done.transcript = turn.transcript();
  bool failed = false;
  for (const StageRecord& stage : result.stages) failed |= stage.outcome == StageOutcome::kFail;
  if (done.transcript.empty() && !turn.text_input().has_value() && !failed) {
    done.discarded = true;
    done.discarded_why =
        turn.echo_of_reply().empty() ? "no words recognised" : "the reply's own echo";
    spdlog::debug("session {} turn {} discarded: {}", session_id, id, done.discarded_why);
    return done;
  }
  done.events = StageErrors(turn);
  for (const v1::ConverseEvent& error : done.events) {
    spdlog::warn("session {} turn {}: {}", session_id, id, error.error().message());
  }

  std::string failed_tts;
  for (size_t i = 0; i < result.stages.size(); ++i) {
    if (result.stages[i].outcome == StageOutcome::kFail &&
        pipeline.stages()[i].spec.type() == "tts") {
      failed_tts = result.stages[i].name;
    }
  }
  done.reply = turn.reply();
  if (turn.interrupted || !failed_tts.empty()) {
    done.reply = turn.heard.HeardText();
    if (!done.transcript.empty()) {
      // Memory keeps only what the user heard (replacing what save_memory wrote, if it ran).
      Exchange exchange{id, done.transcript, done.reply, true};
      if (absl::Status s = memory.Record(session_id, std::move(exchange)); !s.ok()) {
        spdlog::warn("session {} turn {}: cannot save the heard reply: {}", session_id, id,
                     s.ToString());
      }
    }
  }

  v1::ConverseEvent event;
  *event.mutable_turn_completed() = TurnReport(turn, done.reply, now);
  const v1::LatencyBreakdown& latency = event.turn_completed().latency();
  const absl::Time end_of_speech = turn.MarkTime(TurnMark::kEndOfSpeech);
  VoiceMetrics::RecordTurn(
      result, turn.first_audio_sent - end_of_speech,
      turn.first_audio_sent != absl::InfinitePast() && end_of_speech != absl::InfinitePast());
  if (latency.endpointing_delay_ms() >= 0 && !turn.text_input().has_value()) {
    VoiceMetrics::RecordEndpointing(absl::Milliseconds(latency.endpointing_delay_ms()));
  }
  // What was said is conversation content: at debug only (docs/ARCHITECTURE.md, "Logs").
  spdlog::info(
      "session {} turn {} done: transcript_chars={} reply_chars={} interrupted={} "
      "voice_to_voice_ms={} total_ms={} degradations=[{}]",
      session_id, id, done.transcript.size(), done.reply.size(), turn.interrupted,
      latency.voice_to_voice_ms(), latency.turn_total_ms(),
      absl::StrJoin(result.degradations, ","));
  spdlog::debug("session {} turn {} transcript={} reply={}", session_id, id,
                QuoteClientValue(done.transcript, 4096), QuoteClientValue(done.reply, 4096));
  done.events.push_back(std::move(event));
  return done;
}

}  // namespace voxflow::orchestrator
