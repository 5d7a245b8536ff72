// The attributes of the telemetry events a session sends about its turns and its input: what
// the reply had played when the caller's voice paused, resumed or interrupted it, a turn's
// buffer statistics, and the input's byte accounting when the stream ends.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TURN_TELEMETRY_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TURN_TELEMETRY_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "services/common/streaming/events.h"
#include "services/common/streaming/jitter_buffer.h"
#include "services/orchestrator/listening/listener.h"
#include "services/orchestrator/turn.h"

namespace voxflow::orchestrator {

// turn.reply_paused / turn.reply_resumed, and stream.buffer_underrun (`stream_ms` < 0: left out).
streaming::EventAttributes ReplyAttributes(const Turn& turn, double stream_ms = -1);
// turn.interrupted: why, how much reply audio was sent and flushed, and what the caller heard.
streaming::EventAttributes InterruptedAttributes(const Turn& turn, absl::string_view reason,
                                                 double flushed_ms);
// turn.stats: the input buffer's and the output's counters when the turn completed.
streaming::EventAttributes TurnStatsAttributes(const Turn& turn,
                                               const streaming::JitterBufferStats& input,
                                               const InputAccounting& accounting,
                                               int64_t output_underruns);
// input.accounting: where every byte of the caller's audio went.
streaming::EventAttributes InputAccountingAttributes(const InputAccounting& accounting);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TURN_TELEMETRY_H_
