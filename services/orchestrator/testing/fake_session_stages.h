// Fakes for driving a ConverseSession without backends (unit tests, the session fuzzer): a voice
// activity detector that hears loud samples as voice, an stt stage that transcribes an utterance
// as its size, and a reply stage standing for llm + tts.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_FAKE_SESSION_STAGES_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_FAKE_SESSION_STAGES_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/common/cancellation.h"
#include "services/orchestrator/listening/voice_activity_detector.h"
#include "services/orchestrator/pipeline/pipeline_registry.h"
#include "services/orchestrator/pipeline/pipeline_spec_loader.h"
#include "services/orchestrator/stages/turn_environment.h"
#include "services/orchestrator/testing/test_audio.h"

namespace voxflow::orchestrator::testing {

// What the fake stt stages report: the transcript "<bytes> bytes" (empty without voice).
inline StageResult ReportHeard(TurnEnvironment& turn, StageContext& context, size_t bytes,
                               bool voice) {
  if (context.cancelled()) return StageResult::Cancel("cancelled");
  v1::Transcript transcript;
  transcript.set_is_final(true);
  transcript.set_text(voice ? absl::StrCat(bytes, " bytes") : "");
  turn.OnTranscript(transcript);
  return StageResult::Ok({{"transcript", transcript.text()}});
}

// The pipeline the fakes run: stt, then a reply (llm + tts) from its transcript.
inline std::unique_ptr<PipelineRegistry> FakePipelines() {
  auto spec = ParsePipelineSpec(R"(
      name: "fake"
      stages { name: "stt" type: "stt" }
      stages { name: "reply" type: "reply" depends_on: "stt" })",
                                "fake");
  auto registry = spec.ok() ? PipelineRegistry::Create({*spec}, {"stt", "reply"})
                            : absl::StatusOr<PipelineRegistry>(spec.status());
  if (!registry.ok()) {  // The spec above is the fakes' own: a broken one is a broken build.
    std::fprintf(stderr, "FakePipelines: %s\n", registry.status().ToString().c_str());
    std::abort();
  }
  return std::make_unique<PipelineRegistry>(*std::move(registry));
}

// One LoudnessVad per session.
inline VadFactory LoudnessVadFactory() {
  return [](const v1::AudioStreamFormat&, v1::VoiceDetector,
            bool) -> absl::StatusOr<std::unique_ptr<VoiceActivityDetector>> {
    return std::make_unique<LoudnessVad>();
  };
}

// stt: reads its utterance to the end; the transcript is "<bytes> bytes" (empty if no voice).
class FakeStt final : public Stage {
 public:
  explicit FakeStt(TurnEnvironment* turn) : turn_(turn) {}
  StageResult Run(StageContext& context) override {
    size_t bytes = 0;
    bool voice = false;
    LoudnessVad vad;
    while (auto item = turn_->NextInput(context.cancellation())) {
      if (item->end_of_utterance) break;
      bytes += item->audio.data().size();
      voice |= vad.IsSpeech(item->audio.data());
    }
    return ReportHeard(*turn_, context, bytes, voice);
  }

 private:
  TurnEnvironment* const turn_;
};

// What WatchingStt saw: how often its watcher ran, and how often under the session's lock.
struct LockProbe {
  std::function<bool()> lock_held;
  std::atomic<int> wakes{0};
  std::atomic<int> under_lock{0};
};

// stt, event-driven like the real stage (WatchInput, TryNextInput): where the real stage writes
// each frame to its backend stream, this one asks `probe` whether the session's lock is held.
// The transcript is FakeStt's.
class WatchingStt final : public Stage {
 public:
  WatchingStt(TurnEnvironment* turn, std::shared_ptr<LockProbe> probe)
      : turn_(turn), probe_(std::move(probe)) {}
  StageResult Run(StageContext& context) override {
    struct Wakes {
      std::mutex mu;
      std::condition_variable changed;
      int count = 0;
    };
    auto wakes = std::make_shared<Wakes>();
    auto wake = [wakes] {
      {
        std::lock_guard<std::mutex> lock(wakes->mu);
        ++wakes->count;
      }
      wakes->changed.notify_all();
    };
    ScopedCancelCallback on_cancel(context.cancellation(), [wake](const absl::Status&) { wake(); });
    turn_->WatchInput([wake, probe = probe_] {
      if (probe->lock_held()) ++probe->under_lock;
      ++probe->wakes;
      wake();
    });
    size_t bytes = 0;
    bool voice = false;
    LoudnessVad vad;
    while (!context.cancelled()) {
      int seen;
      {
        std::lock_guard<std::mutex> lock(wakes->mu);
        seen = wakes->count;
      }
      std::optional<InputItem> item = turn_->TryNextInput();
      if (!item.has_value()) {
        std::unique_lock<std::mutex> lock(wakes->mu);
        wakes->changed.wait(lock, [&] { return wakes->count != seen; });
        continue;
      }
      if (item->end_of_utterance) break;
      bytes += item->audio.data().size();
      voice |= vad.IsSpeech(item->audio.data());
    }
    turn_->StopWatchingInput();
    return ReportHeard(*turn_, context, bytes, voice);
  }

 private:
  TurnEnvironment* const turn_;
  const std::shared_ptr<LockProbe> probe_;
};

// llm + tts in one: the reply text, then `reply_ms` of audio in 20 ms chunks.
class FakeReply final : public Stage {
 public:
  static constexpr size_t kChunk = 640;  // 20 ms of 16 kHz mono PCM16.

  FakeReply(TurnEnvironment* turn, int reply_ms) : turn_(turn), reply_ms_(reply_ms) {}
  StageResult Run(StageContext& context) override {
    const std::string text = context.Input("stt", "transcript");
    if (text.empty() && !turn_->text_input().has_value()) return StageResult::Skip("nothing");
    turn_->OnReplyText("ok", true);
    for (int ms = 0; ms < reply_ms_; ms += 20) {
      v1::AudioChunk chunk;
      chunk.set_data(std::string(kChunk, '\1'));
      chunk.set_format(v1::PCM16);
      chunk.set_sample_rate(16000);
      chunk.set_channels(1);
      if (!turn_->OnReplyAudio(std::move(chunk), "ok", *context.cancellation())) {
        return StageResult::Cancel("output refused");
      }
    }
    return StageResult::Ok({{"reply", "ok"}});
  }

 private:
  TurnEnvironment* const turn_;
  const int reply_ms_;
};

}  // namespace voxflow::orchestrator::testing

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_FAKE_SESSION_STAGES_H_
