// Session config: a client's SessionConfig checked field by field and built into what a session
// runs on (its buffers, codecs, detector, turn-taking settings), the server's defaults filled in.
// No session is needed: a config that fails here never becomes one.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_CONFIG_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_CONFIG_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/opus_codec.h"
#include "services/common/streaming/events.h"
#include "services/common/streaming/jitter_buffer.h"
#include "services/orchestrator/listening/barge_in_detector.h"
#include "services/orchestrator/listening/listener.h"
#include "services/orchestrator/listening/utterance_segmenter.h"
#include "services/orchestrator/listening/voice_activity_detector.h"
#include "services/orchestrator/pipeline/pipeline_graph.h"
#include "services/orchestrator/reply_playout.h"
#include "services/orchestrator/session_services.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

// What a session is built from.
struct SessionSetup {
  // The config in force: the server's defaults filled in (endpointing, barge-in, language), and
  // PCM16 formats where the client asked for OPUS (what everything inside handles).
  std::shared_ptr<const v1::SessionConfig> config;
  v1::AudioStreamFormat wire_input_format;  // What the client's audio arrives in.
  std::shared_ptr<const PipelineGraph> pipeline;
  std::unique_ptr<OpusStreamDecoder> opus_in;  // For OPUS input; null otherwise.
  std::unique_ptr<streaming::JitterBuffer> input_buffer;
  int input_target_ms = 0;
  std::unique_ptr<ReplyPlayout> playout;
  std::unique_ptr<VoiceActivityDetector> vad;
  std::unique_ptr<EchoCanceller> echo;  // Null: no echo cancellation.
  EndpointingSettings endpointing;
  BargeInSettings barge_in;
};

// The telemetry emitter of the named jitter buffer ("input", "output").
using BufferEmitterFactory = std::function<streaming::EventEmitter(std::string buffer)>;

// Checks `requested` against the server (`services`: pipelines, voices, defaults) and builds
// the session's parts; INVALID_ARGUMENT naming the field otherwise. The session id is checked
// (characters, length) but not claimed.
absl::StatusOr<SessionSetup> BuildSessionSetup(const v1::SessionConfig& requested,
                                               const SessionServices& services,
                                               const BufferEmitterFactory& emitter_for);

// The session's listener, from the parts `setup` built (moved out of it), reporting to `hooks`.
std::unique_ptr<Listener> MakeListener(SessionSetup& setup, const SessionOptions& options,
                                       ListenerHooks* hooks);

// INVALID_ARGUMENT naming the field of config.llm that is out of bounds.
absl::Status CheckLlmSettings(const v1::LlmSettings& llm);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_CONFIG_H_
