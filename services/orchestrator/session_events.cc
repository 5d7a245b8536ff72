#include "services/orchestrator/session_events.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/logging.h"
#include "spdlog/spdlog.h"

namespace voxflow::orchestrator {

SessionEvents::SessionEvents(EventSink send, EndSink end, std::function<absl::Time()> clock)
    : clock_(std::move(clock)), send_(std::move(send)), end_(std::move(end)) {}

void SessionEvents::SetSession(std::string session_id, bool telemetry) {
  session_id_ = std::move(session_id);
  telemetry_ = telemetry;
}

void SessionEvents::Send(v1::ConverseEvent event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (send_) send_(std::move(event));
}

void SessionEvents::SendTelemetry(absl::string_view name,
                                  const streaming::EventAttributes& attributes) {
  if (spdlog::should_log(spdlog::level::debug)) {
    std::vector<std::string> parts;
    for (const auto& [key, value] : attributes) parts.push_back(absl::StrCat(key, "=", value));
    spdlog::debug("session {} {} {}", session_id_, name, absl::StrJoin(parts, " "));
  }
  if (!telemetry_ && !absl::StartsWith(name, "turn.")) return;
  v1::ConverseEvent event;
  v1::TelemetryEvent* telemetry = event.mutable_telemetry();
  telemetry->set_name(std::string(name));
  telemetry->mutable_attributes()->insert(attributes.begin(), attributes.end());
  telemetry->set_timestamp_ms(absl::ToUnixMillis(clock_()));
  Send(std::move(event));
}

streaming::EventEmitter SessionEvents::BufferEmitter(std::string buffer) {
  return [this, buffer = std::move(buffer)](absl::string_view name,
                                            const streaming::EventAttributes& attributes) {
    streaming::EventAttributes tagged = attributes;
    tagged["buffer"] = buffer;
    SendTelemetry(name, tagged);
  };
}

void SessionEvents::End(const absl::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (end_) end_(status);
}

void SessionEvents::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  send_ = nullptr;
  end_ = nullptr;
}

v1::ConverseEvent SessionStartedEvent(const std::string& session_id,
                                      const PipelineGraph& pipeline) {
  v1::ConverseEvent event;
  v1::SessionStarted* started = event.mutable_session_started();
  started->set_session_id(session_id);
  started->set_pipeline(pipeline.name());
  for (const std::string& name : pipeline.OrderedNames()) started->add_stages(name);
  return event;
}

v1::ConverseEvent StageEventOf(int turn_id, v1::StageEvent stage) {
  stage.set_turn_id(turn_id);
  v1::ConverseEvent event;
  *event.mutable_stage() = std::move(stage);
  return event;
}

v1::ConverseEvent UserSpeechEvent(v1::UserSpeech::Type type, int64_t stream_ms, int turn_id) {
  v1::ConverseEvent event;
  v1::UserSpeech* speech = event.mutable_user_speech();
  speech->set_type(type);
  speech->set_stream_ms(stream_ms);
  speech->set_turn_id(turn_id);
  return event;
}

v1::ConverseEvent ToolCallEvent(int turn_id, const LlmToolCall& call) {
  v1::ConverseEvent event;
  v1::ToolCall* out = event.mutable_tool_call();
  out->set_id(call.id);
  out->set_name(call.name);
  out->set_arguments_json(call.arguments_json);
  out->set_turn_id(turn_id);
  return event;
}

v1::ConverseEvent RecoverableErrorEvent(const absl::Status& status) {
  v1::ConverseEvent event;
  event.mutable_error()->set_code(static_cast<int>(status.code()));
  event.mutable_error()->set_message(std::string(status.message()));
  event.mutable_error()->set_recoverable(true);
  return event;
}

}  // namespace voxflow::orchestrator
