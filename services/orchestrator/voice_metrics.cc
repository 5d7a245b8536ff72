#include "services/orchestrator/voice_metrics.h"

#include <tuple>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "services/common/metrics.h"

namespace voxflow::orchestrator {
namespace {

struct Families {
  prometheus::Family<prometheus::Histogram>& stage_seconds =
      prometheus::BuildHistogram()
          .Name("voxflow_stage_duration_seconds")
          .Help("Duration of each stage run in a turn, by stage and outcome.")
          .Register(MetricsRegistry());
  prometheus::Histogram& voice_to_voice =
      prometheus::BuildHistogram()
          .Name("voxflow_voice_to_voice_seconds")
          .Help("End of the user's speech to the first reply audio sent.")
          .Register(MetricsRegistry())
          .Add({}, DurationBuckets());
  prometheus::Histogram& endpointing =
      prometheus::BuildHistogram()
          .Name("voxflow_endpointing_delay_seconds")
          .Help("End of the user's speech to the end-of-turn decision.")
          .Register(MetricsRegistry())
          .Add({}, DurationBuckets());
  prometheus::Histogram& noise_floor =
      prometheus::BuildHistogram()
          .Name("voxflow_turn_noise_floor_dbfs")
          .Help(
              "The caller's room at the end of each turn: the quietest 100 ms of the last 5 s of "
              "input, after echo cancellation, in dBFS.")
          .Register(MetricsRegistry())
          .Add({}, prometheus::Histogram::BucketBoundaries{-90, -80, -70, -60, -50, -45, -40, -35,
                                                           -30, -25, -20});
  prometheus::Family<prometheus::Counter>& echo_turns =
      prometheus::BuildCounter()
          .Name("voxflow_turn_echo_total")
          .Help(
              "Turns of sessions with an echo canceller, by what it saw: found (the reply's echo "
              "is in the caller's audio), none (looked and found none), looking.")
          .Register(MetricsRegistry());
  prometheus::Histogram& echo_erle =
      prometheus::BuildHistogram()
          .Name("voxflow_turn_echo_erle_db")
          .Help("Echo return loss enhancement at the end of each turn of a cancelling session.")
          .Register(MetricsRegistry())
          .Add({}, prometheus::Histogram::BucketBoundaries{0, 5, 10, 15, 20, 25, 30, 40, 50});
  prometheus::Family<prometheus::Counter>& barge_ins =
      prometheus::BuildCounter()
          .Name("voxflow_barge_in_total")
          .Help(
              "Voice over a reply, by result: paused, resumed (a false interruption), "
              "interrupted.")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Counter>& retries =
      prometheus::BuildCounter()
          .Name("voxflow_backend_retries_total")
          .Help("Extra attempts of stages (a retry after a transient backend error or a timeout).")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Counter>& dropped =
      prometheus::BuildCounter()
          .Name("voxflow_queue_dropped_total")
          .Help("Chunks dropped by full ChunkQueues.")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Counter>& throttled =
      prometheus::BuildCounter()
          .Name("voxflow_queue_throttle_seconds_total")
          .Help("Time producers were throttled by full ChunkQueues.")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Counter>& underruns =
      prometheus::BuildCounter()
          .Name("voxflow_jitter_underruns_total")
          .Help("Times a jitter buffer ran dry while audio was due.")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Counter>& concealed =
      prometheus::BuildCounter()
          .Name("voxflow_jitter_concealed_seconds_total")
          .Help("Audio made up by jitter-buffer concealment.")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Counter>& input_chunks =
      prometheus::BuildCounter()
          .Name("voxflow_input_chunks_total")
          .Help(
              "Caller audio chunks (Opus packets) that arrived out of order, by what became "
              "of them: reordered (put back in place), late (dropped), lost (never came).")
          .Register(MetricsRegistry());

  prometheus::Family<prometheus::Histogram>& hand_overs =
      prometheus::BuildHistogram()
          .Name("voxflow_chunk_hand_overs")
          .Help(
              "Per frame of input (to the stt stream) and of reply audio (to the caller), the "
              "queues it waited in for another thread inside the orchestrator.")
          .Register(MetricsRegistry());
  prometheus::Histogram& hand_overs_in =
      hand_overs.Add({{"direction", "in"}}, prometheus::Histogram::BucketBoundaries{0, 1, 2});
  prometheus::Histogram& hand_overs_out =
      hand_overs.Add({{"direction", "out"}}, prometheus::Histogram::BucketBoundaries{0, 1, 2});

  static Families& Get() {
    static auto* families = new Families();
    return *families;
  }
};

const char* OutcomeName(StageOutcome outcome) {
  switch (outcome) {
    case StageOutcome::kOk:
      return "ok";
    case StageOutcome::kSkip:
      return "skip";
    case StageOutcome::kFail:
      return "fail";
    case StageOutcome::kCancel:
      return "cancel";
    case StageOutcome::kRetry:
      return "retry";
  }
  return "unknown";
}

}  // namespace

void VoiceMetrics::RecordTurn(const TurnResult& result, absl::Duration voice_to_voice,
                              bool has_v2v) {
  Families& f = Families::Get();
  for (const StageRecord& stage : result.stages) {
    if (!stage.ran) continue;
    f.stage_seconds
        .Add({{"stage", stage.name}, {"status", OutcomeName(stage.outcome)}}, DurationBuckets())
        .Observe(absl::ToDoubleSeconds(stage.duration()));
    if (stage.attempts > 1) f.retries.Add({{"stage", stage.name}}).Increment(stage.attempts - 1);
  }
  if (has_v2v) f.voice_to_voice.Observe(absl::ToDoubleSeconds(voice_to_voice));
}

void VoiceMetrics::RecordEndpointing(absl::Duration delay) {
  Families::Get().endpointing.Observe(absl::ToDoubleSeconds(delay));
}

void VoiceMetrics::RecordListening(double noise_floor_dbfs, const EchoCanceller::Stats* echo) {
  Families& f = Families::Get();
  f.noise_floor.Observe(noise_floor_dbfs);
  if (echo == nullptr) return;
  f.echo_turns.Add({{"echo", echo->state_name()}}).Increment();
  if (echo->engaged) f.echo_erle.Observe(echo->erle_db);
}

void VoiceMetrics::CountBargeIn(const std::string& result) {
  Families::Get().barge_ins.Add({{"result", result}}).Increment();
}

void VoiceMetrics::CountHandOvers(HandOverDirection direction, int hand_overs) {
  Families& f = Families::Get();
  (direction == HandOverDirection::kIn ? f.hand_overs_in : f.hand_overs_out).Observe(hand_overs);
}

void VoiceMetrics::AddTotals(const StreamTotals& now, const StreamTotals& before) {
  Families& f = Families::Get();
  if (now.queue_dropped > before.queue_dropped) {
    f.dropped.Add({{"queue", "input"}})
        .Increment(static_cast<double>(now.queue_dropped - before.queue_dropped));
  }
  if (now.queue_throttled_ms > before.queue_throttled_ms) {
    f.throttled.Add({{"queue", "input"}})
        .Increment((now.queue_throttled_ms - before.queue_throttled_ms) / 1000.0);
  }
  if (now.output_underruns > before.output_underruns) {
    f.underruns.Add({{"buffer", "output"}})
        .Increment(static_cast<double>(now.output_underruns - before.output_underruns));
  }
  for (const auto& [outcome, count, counted] :
       {std::tuple{"reordered", now.input_reordered, before.input_reordered},
        std::tuple{"late", now.input_late, before.input_late},
        std::tuple{"lost", now.input_lost, before.input_lost}}) {
    if (count > counted) {
      f.input_chunks.Add({{"outcome", outcome}}).Increment(static_cast<double>(count - counted));
    }
  }
  if (now.input_concealed_ms > before.input_concealed_ms) {
    f.concealed.Add({{"buffer", "input"}})
        .Increment((now.input_concealed_ms - before.input_concealed_ms) / 1000.0);
  }
}

}  // namespace voxflow::orchestrator
