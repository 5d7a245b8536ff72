// SessionEvents: where a session's events go out. The stream's sinks until the call is over
// (then nothing more is sent); telemetry events only when the client asked for them (turn.*
// always: they say what happened to a turn), each one logged at debug. And the events a session
// builds from its parts.
//
// Thread-safe: stage threads, the ticker and the strand send concurrently.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_EVENTS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_EVENTS_H_

#include <atomic>
#include <functional>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/streaming/events.h"
#include "services/orchestrator/llm_client.h"
#include "services/orchestrator/pipeline/pipeline_graph.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

class SessionEvents {
 public:
  using EventSink = std::function<void(v1::ConverseEvent)>;
  using EndSink = std::function<void(const absl::Status&)>;

  // `clock` stamps telemetry events.
  SessionEvents(EventSink send, EndSink end, std::function<absl::Time()> clock);

  // Once the config named the session, before the stages send anything.
  void SetSession(std::string session_id, bool telemetry);

  void Send(v1::ConverseEvent event);
  void SendTelemetry(absl::string_view name, const streaming::EventAttributes& attributes);
  // Telemetry of the named jitter buffer ("input", "output"): its events tagged with its name.
  // The buffer must not outlive this.
  streaming::EventEmitter BufferEmitter(std::string buffer);
  // Ends the stream with `status`.
  void End(const absl::Status& status);
  // The call is over: the sinks are dropped (a send running now finishes first).
  void Close();

 private:
  const std::function<absl::Time()> clock_;
  std::mutex mu_;  // Guards the sinks against Close.
  EventSink send_;
  EndSink end_;
  std::string session_id_;  // Set once, before concurrent use.
  std::atomic<bool> telemetry_ = false;
};

// SessionStarted: the session's id and its pipeline's stages in order.
v1::ConverseEvent SessionStartedEvent(const std::string& session_id, const PipelineGraph& pipeline);
// A stage's transition, of turn `turn_id`.
v1::ConverseEvent StageEventOf(int turn_id, v1::StageEvent stage);
v1::ConverseEvent UserSpeechEvent(v1::UserSpeech::Type type, int64_t stream_ms, int turn_id);
v1::ConverseEvent ToolCallEvent(int turn_id, const LlmToolCall& call);
// An ErrorEvent the session goes on after.
v1::ConverseEvent RecoverableErrorEvent(const absl::Status& status);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_EVENTS_H_
