// TurnHost: what a Turn reports to the session that owns it. The session implements it; a Turn
// holds it weakly and never includes its owner (the owner calls the turn, the turn reports back
// here). Every call names the turn by its id: a report from a turn the session no longer plays or
// listens to is dropped by the session.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TURN_HOST_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TURN_HOST_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/cancellation.h"
#include "services/common/streaming/events.h"
#include "services/orchestrator/llm_client.h"
#include "services/orchestrator/stages/turn_environment.h"
#include "voxflow/v1/audio.pb.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

class TurnHost {
 public:
  virtual ~TurnHost() = default;

  // An event for the caller (a transcript, a piece of the reply text), in the order sent.
  virtual void Send(v1::ConverseEvent event) = 0;
  virtual void SendTelemetry(absl::string_view name,
                             const streaming::EventAttributes& attributes) = 0;

  // Listening: the recognizer heard `transcript`, the turn's utterance so far (barge-in counts its
  // words), or its own end of the utterance (a second end-of-turn signal).
  virtual void OnHeard(int turn_id, const std::string& transcript) = 0;
  virtual void OnRecognizerEndpoint(int turn_id) = 0;
  // Whether the turn's final `transcript` is the reply's own voice come back (its echo).
  virtual bool IsEchoOfReply(int turn_id, const std::string& transcript) = 0;

  // Reply audio of the turn for the output (TurnEnvironment::TryReplyAudio / WhenReplyRoom).
  virtual ReplyOffer OfferReplyAudio(int turn_id, v1::AudioChunk& audio,
                                     const std::string& text) = 0;
  virtual void WhenReplyRoom(int turn_id, size_t bytes, std::function<void()> on_room) = 0;

  // A tool the turn's llm asks the caller to run (TurnEnvironment::CallTool).
  virtual void CallTool(int turn_id, const LlmToolCall& call, absl::Duration timeout,
                        const std::shared_ptr<CancellationToken>& cancel,
                        LlmToolAnswerSink answer) = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TURN_HOST_H_
