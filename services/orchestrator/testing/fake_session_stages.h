// Fakes for driving a ConverseSession without backends (unit tests, the session fuzzer): a voice
// activity detector that hears loud samples as voice, an stt stage that transcribes an utterance
// as its size, and a reply stage standing for llm + tts.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_FAKE_SESSION_STAGES_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_FAKE_SESSION_STAGES_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
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
#include "services/orchestrator/stages/turn_environment.h"

namespace voxflow::orchestrator::testing {

// Voice is any sample louder than 1000: the test decides what the detector hears.
class LoudnessVad final : public VoiceActivityDetector {
 public:
  bool IsSpeech(absl::string_view frame) override {
    for (size_t i = 0; i + 1 < frame.size(); i += 2) {
      int16_t v;
      std::memcpy(&v, frame.data() + i, 2);
      if (std::abs(v) > 1000) return true;
    }
    return false;
  }
};

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
    if (context.cancelled()) return StageResult::Cancel("cancelled");
    v1::Transcript transcript;
    transcript.set_is_final(true);
    transcript.set_text(voice ? absl::StrCat(bytes, " bytes") : "");
    turn_->OnTranscript(transcript);
    return StageResult::Ok({{"transcript", transcript.text()}});
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
    if (context.cancelled()) return StageResult::Cancel("cancelled");
    v1::Transcript transcript;
    transcript.set_is_final(true);
    transcript.set_text(voice ? absl::StrCat(bytes, " bytes") : "");
    turn_->OnTranscript(transcript);
    return StageResult::Ok({{"transcript", transcript.text()}});
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
