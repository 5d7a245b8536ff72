// ConverseSession (no gRPC) fed arbitrary ConverseRequest sequences: raw wire bytes, configs with
// odd formats and settings, audio chunks with any sequence numbers and formats, text, controls
// and ticks. The real voice activity detector, segmenter, turns and playout; fake stages in place
// of the backends. Every request is answered with a status; the session always ends.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "fuzz/fuzz_input.h"
#include "services/orchestrator/conversation_memory.h"
#include "services/orchestrator/converse_session.h"
#include "services/orchestrator/live_sessions.h"
#include "services/orchestrator/pipeline/pipeline_registry.h"
#include "services/orchestrator/pipeline/pipeline_spec_loader.h"
#include "services/orchestrator/resumption/resumption.h"
#include "services/orchestrator/testing/fake_session_stages.h"
#include "spdlog/spdlog.h"

namespace voxflow::orchestrator {
namespace {

struct Environment {
  Environment() {
    registry = testing::FakePipelines();
    services.pipelines = registry.get();
    services.memory = &memory;
    services.resumption = &resumption;
    services.stage_factories = [](TurnEnvironment* turn) {
      StageFactories factories;
      factories["stt"] = [turn](const v1::StageSpec&) {
        return std::make_unique<testing::FakeStt>(turn);
      };
      factories["reply"] = [turn](const v1::StageSpec&) {
        return std::make_unique<testing::FakeReply>(turn, 60);
      };
      return factories;
    };
  }
  std::unique_ptr<PipelineRegistry> registry;
  InProcessMemory memory;
  LiveSessions live_sessions;
  // Session ids checked, resume tokens verified (an in-process store: nothing is shared).
  Resumption resumption{ResumeTokens(ResumeTokens::RandomKey(), absl::Hours(1)), &live_sessions,
                        nullptr, "fuzz", nullptr};
  SessionServices services;
};

v1::AudioStreamFormat Format(fuzz::FuzzInput& in) {
  static constexpr int kRates[] = {8000, 16000, 24000, 48000, 0, 7999, 1000000};
  v1::AudioStreamFormat format;
  format.set_format(static_cast<v1::AudioFormat>(in.IntInRange(-1, 8)));
  format.set_sample_rate(in.Pick(kRates));
  format.set_channels(static_cast<int32_t>(in.IntInRange(0, 9)));
  return format;
}

v1::ConverseRequest Config(fuzz::FuzzInput& in) {
  v1::ConverseRequest request;
  v1::SessionConfig* config = request.mutable_config();
  if (in.Byte() < 200) {  // Mostly a format the session accepts, so that audio gets far.
    config->mutable_input_format()->set_format(v1::PCM16);
    config->mutable_input_format()->set_sample_rate(in.Bool() ? 16000 : 8000);
    config->mutable_input_format()->set_channels(1);
  } else {
    *config->mutable_input_format() = Format(in);
  }
  *config->mutable_output_format() = in.Byte() < 200 ? config->input_format() : Format(in);
  if (in.Byte() < 64) config->set_pipeline(in.Bytes(12));
  if (in.Byte() < 64) config->set_session_id(in.Bytes(12));
  config->set_interim_results(in.Bool());
  config->set_telemetry(in.Bool());
  if (in.Byte() < 64) {
    config->mutable_endpointing()->set_silence_ms(static_cast<int32_t>(in.IntInRange(-1, 6000)));
    config->mutable_endpointing()->set_min_speech_ms(static_cast<int32_t>(in.IntInRange(-1, 3000)));
    config->mutable_endpointing()->set_max_utterance_ms(
        static_cast<int32_t>(in.IntInRange(-1, 200000)));
  }
  if (in.Byte() < 64) {
    config->mutable_barge_in()->set_enabled(in.Bool());
    config->mutable_barge_in()->set_min_speech_ms(static_cast<int32_t>(in.IntInRange(-1, 6000)));
  }
  if (in.Byte() < 32) {
    config->mutable_input_jitter_buffer()->set_target_duration_ms(
        static_cast<int32_t>(in.IntInRange(-1, 3000)));
    config->mutable_input_jitter_buffer()->set_adaptive(in.Bool());
  }
  return request;
}

// Loud or quiet PCM16, or raw bytes.
std::string Audio(fuzz::FuzzInput& in) {
  const int kind = static_cast<int>(in.IntInRange(0, 2));
  if (kind == 2) return in.Bytes(4000);
  std::string pcm(640, '\0');
  if (kind == 1) {
    for (size_t i = 0; i + 1 < pcm.size(); i += 2) {
      const int16_t v = (i / 2) % 2 ? 8000 : -8000;
      pcm[i] = static_cast<char>(v & 0xff);
      pcm[i + 1] = static_cast<char>((v >> 8) & 0xff);
    }
  }
  return pcm;
}

}  // namespace
}  // namespace voxflow::orchestrator

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace voxflow;                // NOLINT: a fuzz target.
  using namespace voxflow::orchestrator;  // NOLINT
  static auto* environment = new Environment();
  // FUZZ_TRACE=1: print each step's status (to read a finding).
  static const bool trace = std::getenv("FUZZ_TRACE") != nullptr;
  fuzz::FuzzInput in(data, size);
  auto session = ConverseSession::Create(
      environment->services, [](v1::ConverseEvent) {}, [](const absl::Status&) {});
  session->SetTickWaker([] {});
  absl::Time now = absl::Now();
  uint64_t sequence = 0;
  bool ended = false;
  for (int step = 0; step < 200 && !in.empty() && !ended; ++step) {
    absl::Status status;
    const int64_t kind = in.IntInRange(0, 8);
    if (trace) std::fprintf(stderr, "step %d: kind %lld\n", step, static_cast<long long>(kind));
    switch (kind) {
      case 0: {  // Wire bytes, as a client could send them.
        v1::ConverseRequest request;
        if (request.ParseFromString(in.Bytes(512))) {
          if (trace) std::fprintf(stderr, "  %s\n", request.ShortDebugString().c_str());
          status = session->HandleRequest(request);
        }
        break;
      }
      case 1:
        status = session->HandleRequest(Config(in));
        break;
      case 2:
      case 3:
      case 4: {
        v1::ConverseRequest request;
        v1::AudioChunk* audio = request.mutable_audio();
        audio->set_format(v1::PCM16);
        audio->set_sample_rate(16000);
        audio->set_channels(1);
        if (in.Byte() < 16) {
          audio->set_format(static_cast<v1::AudioFormat>(in.IntInRange(-1, 8)));
          audio->set_sample_rate(static_cast<int32_t>(in.IntInRange(-1, 96000)));
        }
        sequence = in.Byte() < 16 ? in.Integral<uint64_t>() : sequence + 1;
        audio->set_sequence(sequence);
        audio->set_data(Audio(in));
        status = session->HandleRequest(request);
        break;
      }
      case 5: {
        v1::ConverseRequest request;
        request.mutable_text()->set_text(in.Bytes(64));
        status = session->HandleRequest(request);
        break;
      }
      case 6: {
        v1::ConverseRequest request;
        request.mutable_control()->set_type(static_cast<v1::Control::Type>(in.IntInRange(0, 80)));
        status = session->HandleRequest(request);
        break;
      }
      case 7:
        now += absl::Milliseconds(in.IntInRange(0, 100));
        session->Tick(now);
        break;
      case 8:  // The hang-up: requests already read may still be handled after it.
        session->Close();
        break;
    }
    if (trace) std::fprintf(stderr, "step %d: %s\n", step, status.ToString().c_str());
    ended = !status.ok();  // The stream would end with it.
  }
  if (!ended) (void)session->HandleEndOfInput();
  session->Tick(now + absl::Milliseconds(20));
  session->Close();
  // Stage threads finish once cancelled; wait for the last to let the session go (bounded).
  std::weak_ptr<ConverseSession> weak = session;
  session.reset();
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!weak.expired() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  if (trace && !weak.expired()) std::fprintf(stderr, "the session was not released\n");
  return 0;
}
