// The orchestrator's voice metrics, in the process's Prometheus registry:
//   voxflow_stage_duration_seconds{stage,status}   histogram, one per stage that ran in a turn
//   voxflow_voice_to_voice_seconds                 histogram, end of user speech -> first reply
//   audio voxflow_backend_retries_total{stage}           extra attempts of backend stages
//   voxflow_queue_dropped_total{queue}             chunks dropped by full ChunkQueues
//   voxflow_queue_throttle_seconds_total{queue}    time producers waited on full ChunkQueues
//   voxflow_jitter_underruns_total{buffer}         jitter buffers that ran dry (input, output)
//   voxflow_jitter_concealed_seconds_total{buffer} audio made up by concealment
//   voxflow_turn_noise_floor_dbfs                  histogram, the caller's room per turn
//   voxflow_turn_echo_total{echo}                  turns by what the echo canceller saw
//   voxflow_turn_echo_erle_db                      histogram, echo taken off (turns cancelling)
//   voxflow_chunk_hand_overs{direction}            histogram: per 20 ms frame of input (to the
//     stt stream) and of reply audio (to the caller), the queues it waited in for another thread
// (voxflow_active_streams{service="orchestrator"} counts the open conversations.)
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_VOICE_METRICS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_VOICE_METRICS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "services/common/streaming/jitter_buffer.h"
#include "services/orchestrator/listening/echo_canceller.h"
#include "services/orchestrator/pipeline/dag_runner.h"

namespace voxflow::orchestrator {

// A session's running totals, reported as counter increments since the previous report.
struct StreamTotals {
  int64_t queue_dropped = 0;
  double queue_throttled_ms = 0;
  double input_concealed_ms = 0;
  int64_t input_reordered = 0;  // Chunks (Opus packets with them) put back in order,
  int64_t input_late = 0;       // dropped for arriving after their place,
  int64_t input_lost = 0;       // and given up.
  int64_t output_underruns = 0;

  static StreamTotals Of(const streaming::JitterBufferStats& input, int64_t output_underruns) {
    return {.input_concealed_ms = input.concealed_ms,
            .input_reordered = input.reordered,
            .input_late = input.late,
            .input_lost = input.lost,
            .output_underruns = output_underruns};
  }
};

enum class HandOverDirection { kIn, kOut };

class VoiceMetrics {
 public:
  // Stage durations and retries of a finished turn; `voice_to_voice` when reply audio was sent.
  static void RecordTurn(const TurnResult& result, absl::Duration voice_to_voice, bool has_v2v);
  static void RecordEndpointing(absl::Duration delay);
  // What the listener heard by the end of a turn: the room's noise floor and, where the session
  // has an echo canceller, whether it found the echo and how much of it it takes off.
  static void RecordListening(double noise_floor_dbfs, const EchoCanceller::Stats* echo);
  static void CountBargeIn(const std::string& result);
  // One frame that took `hand_overs` thread hand-overs through the session.
  static void CountHandOvers(HandOverDirection direction, int hand_overs);
  // Adds `now - before` to the counters.
  static void AddTotals(const StreamTotals& now, const StreamTotals& before);
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_VOICE_METRICS_H_
