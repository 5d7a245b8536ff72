#include "services/orchestrator/turn_telemetry.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace voxflow::orchestrator {
namespace {

std::string Ms(double ms) { return absl::StrFormat("%.0f", ms); }

}  // namespace

streaming::EventAttributes ReplyAttributes(const Turn& turn, double stream_ms) {
  streaming::EventAttributes attributes = {{"turn_id", absl::StrCat(turn.turn_id())},
                                           {"reply_audio_sent_ms", Ms(turn.audio_sent_ms)}};
  if (stream_ms >= 0) attributes["stream_ms"] = Ms(stream_ms);
  return attributes;
}

streaming::EventAttributes InterruptedAttributes(const Turn& turn, absl::string_view reason,
                                                 double flushed_ms) {
  streaming::EventAttributes attributes = ReplyAttributes(turn);
  attributes["reason"] = std::string(reason);
  attributes["reply_audio_flushed_ms"] = Ms(flushed_ms);
  attributes["heard_text"] = turn.heard.HeardText();
  return attributes;
}

streaming::EventAttributes TurnStatsAttributes(const Turn& turn,
                                               const streaming::JitterBufferStats& input,
                                               const InputAccounting& accounting,
                                               int64_t output_underruns) {
  streaming::EventAttributes attributes = ReplyAttributes(turn);
  attributes["input_reordered"] = absl::StrCat(input.reordered);
  attributes["input_late"] = absl::StrCat(input.late);
  attributes["input_lost"] = absl::StrCat(input.lost);
  attributes["input_concealed_ms"] = absl::StrFormat("%.1f", input.concealed_ms);
  attributes["input_utterance_bytes"] = absl::StrCat(accounting.in_utterances);
  attributes["input_silence_dropped_bytes"] = absl::StrCat(accounting.silence_dropped);
  attributes["output_underruns"] = absl::StrCat(output_underruns);
  return attributes;
}

streaming::EventAttributes InputAccountingAttributes(const InputAccounting& accounting) {
  return {{"pushed_bytes", absl::StrCat(accounting.pushed)},
          {"utterance_bytes", absl::StrCat(accounting.in_utterances)},
          {"silence_dropped_bytes", absl::StrCat(accounting.silence_dropped)},
          {"pending_bytes", absl::StrCat(accounting.pending)},
          {"utterances", absl::StrCat(accounting.utterances)}};
}

}  // namespace voxflow::orchestrator
