// One conversation with the orchestrator from recorded audio: streams it as the user's speech in
// chunks (optionally at real time), then reads every event until the server ends the stream.
#ifndef VOXFLOW_TOOLS_VOXCTL_CONVERSATION_H_
#define VOXFLOW_TOOLS_VOXCTL_CONVERSATION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::voxctl {

struct ConversationOptions {
  // Sent first; its input_format is the format of the audio given to RunConversation.
  v1::SessionConfig config;
  int chunk_ms = 20;
  // Pace chunks at real time, as a microphone would; otherwise as fast as the stream takes them.
  bool realtime = false;
  // Deadline of the whole call.
  absl::Duration timeout = absl::Minutes(5);
  // A caller who just talks: after the audio the microphone stays open (silence at real time)
  // and no END_OF_INPUT is sent; the server's voice activity detector ends the utterance. The
  // call half-closes once a turn has completed.
  bool hands_free = false;
};

// Called from two threads (the sender and the reader); implementations synchronize.
class ConversationObserver {
 public:
  virtual ~ConversationObserver() = default;
  virtual void OnAudioSent(absl::Duration sent, absl::Duration total) = 0;
  // `elapsed` is the time since the call started.
  virtual void OnEvent(const v1::ConverseEvent& event, absl::Duration elapsed) = 0;
};

struct ConversationResult {
  std::string reply_audio;  // Every turn's reply audio, in config.output_format.
  std::vector<v1::TurnCompleted> turns;
  // Measured here: the last chunk with sound in it sent -> the first reply audio received
  // (negative when there was none).
  absl::Duration voice_to_voice = absl::Seconds(-1);
};

// Runs the conversation; the status is the stream's (its message names `target`).
absl::StatusOr<ConversationResult> RunConversation(const std::shared_ptr<grpc::Channel>& channel,
                                                   const std::string& target,
                                                   const ConversationOptions& options,
                                                   absl::string_view input_pcm,
                                                   ConversationObserver& observer);

}  // namespace voxflow::voxctl

#endif  // VOXFLOW_TOOLS_VOXCTL_CONVERSATION_H_
