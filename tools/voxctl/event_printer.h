// How `voxctl converse` shows a conversation: for people (transcripts, reply, latency breakdown,
// a progress bar on a terminal or plain progress lines otherwise) or as JSON lines for scripts.
#ifndef VOXFLOW_TOOLS_VOXCTL_EVENT_PRINTER_H_
#define VOXFLOW_TOOLS_VOXCTL_EVENT_PRINTER_H_

#include <map>
#include <mutex>
#include <ostream>
#include <string>

#include "tools/voxctl/conversation.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::voxctl {

// The latency breakdown of a turn as aligned "label  N ms" lines, each starting with `indent`.
std::string FormatLatency(const v1::LatencyBreakdown& latency, const std::string& indent);

class TextPrinter : public ConversationObserver {
 public:
  // `terminal`: `out` is a terminal, so progress is one line redrawn in place.
  TextPrinter(std::ostream& out, bool terminal) : out_(out), terminal_(terminal) {}

  void OnAudioSent(absl::Duration sent, absl::Duration total) override;
  void OnEvent(const v1::ConverseEvent& event, absl::Duration elapsed) override;
  // Clears the progress line (on a terminal).
  void Done();

 private:
  void PrintLineLocked(const std::string& line);
  void StatusLineLocked(const std::string& status);

  std::mutex mu_;
  std::ostream& out_;
  const bool terminal_;
  bool status_shown_ = false;
  int64_t progress_printed_s_ = -1;  // Whole seconds reported as plain lines.
  std::string last_interim_;
  std::map<int, std::string> reply_;          // Reply text so far, by turn.
  std::map<int, int64_t> reply_audio_bytes_;  // By turn.
};

// One JSON object per event: {"elapsed_ms": N, "event": {...}} with proto field names; reply
// audio bytes are left out (they go to the WAV) and counted in "audio_bytes".
class JsonPrinter : public ConversationObserver {
 public:
  explicit JsonPrinter(std::ostream& out) : out_(out) {}
  void OnAudioSent(absl::Duration, absl::Duration) override {}
  void OnEvent(const v1::ConverseEvent& event, absl::Duration elapsed) override;

 private:
  std::mutex mu_;
  std::ostream& out_;
};

}  // namespace voxflow::voxctl

#endif  // VOXFLOW_TOOLS_VOXCTL_EVENT_PRINTER_H_
