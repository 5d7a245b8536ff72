// What every session of a server shares (its backends, memory, pipelines, timers) and the
// server's defaults for a session: filled in once by main, read by each session.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_SERVICES_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_SERVICES_H_

#include <cstddef>
#include <functional>

#include "absl/time/time.h"
#include "services/common/backend.h"
#include "services/common/timer_queue.h"
#include "services/common/worker_pool.h"
#include "services/orchestrator/conversation_memory.h"
#include "services/orchestrator/listening/barge_in_detector.h"
#include "services/orchestrator/listening/utterance_segmenter.h"
#include "services/orchestrator/listening/voice_activity_detector.h"
#include "services/orchestrator/pipeline/dag_runner.h"
#include "services/orchestrator/pipeline/pipeline_registry.h"
#include "services/orchestrator/resumption/resumption.h"
#include "services/orchestrator/stages/turn_environment.h"
#include "services/orchestrator/voice_catalog.h"

namespace voxflow::orchestrator {

struct SessionOptions {
  int frame_ms = 20;            // Reply audio frames.
  int output_lead_ms = 60;      // How far ahead of real time reply audio is sent.
  int input_target_ms = 40;     // Default input jitter-buffer delay.
  int output_buffer_ms = 3000;  // Reply audio held ahead; tts waits beyond it.
  // Silence before an utterance's speech kept with it (the recognizer hears the onset the
  // detector may have missed); older silence is counted and let go.
  int leading_silence_ms = 1000;
  EndpointingSettings endpointing;  // Defaults for SessionConfig.endpointing.
  BargeInSettings barge_in;         // Defaults for SessionConfig.barge_in.
  // Default for SessionConfig.voice_detector.
  v1::VoiceDetector voice_detector = v1::VOICE_DETECTOR_NOISE_ROBUST;
  // How long a draining server waits for a session's turn boundary before it moves the session
  // anyway (SessionMove).
  absl::Duration move_bound = absl::Seconds(30);
  // Default for SessionConfig.echo_cancellation.
  v1::EchoCancellation echo_cancellation = v1::ECHO_CANCELLATION_OFF;
  size_t max_chunk_bytes = 1 << 20;
  // A conversation longer than this ends with DEADLINE_EXCEEDED (zero: no limit).
  absl::Duration max_session_duration = absl::ZeroDuration();
  // A conversation that sent nothing for this long while no turn ran ends with DEADLINE_EXCEEDED
  // (zero: no limit). A caller with an open microphone is never idle.
  absl::Duration idle_timeout = absl::ZeroDuration();
};

// Shared by every session of a server.
struct SessionServices {
  const Backend* stt = nullptr;
  const Backend* tts = nullptr;
  ConversationMemory* memory = nullptr;
  const PipelineRegistry* pipelines = nullptr;
  TimerQueue* timers = &TimerQueue::Default();
  // Where stages start (the server's request pool: no threads of their own); null: the
  // process's DefaultStageExecutor.
  WorkerPool* stage_executor = nullptr;
  // The TTS backend's voices, to check config.voice and config.language; null: not checked.
  const VoiceCatalog* voices = nullptr;
  // How a session begins (new or resumed), is kept between turns and ends; it holds the ids of
  // the live conversations (an id is refused while in use). Null: ids are not checked and no
  // session resumes.
  Resumption* resumption = nullptr;
  // One voice activity detector per session; null: CreateVoiceActivityDetector.
  VadFactory vad_factory;
  // A turn's stages (tests drive the session with fakes); null: the built-in stage types over
  // `stt`, `tts` and `memory`.
  std::function<StageFactories(TurnEnvironment* turn)> stage_factories;
  // What a session reads the time from (tests drive it); null: absl::Now.
  std::function<absl::Time()> clock;
  SessionOptions options;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_SERVICES_H_
