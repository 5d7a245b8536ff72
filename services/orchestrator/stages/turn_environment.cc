#include "services/orchestrator/stages/turn_environment.h"

#include <condition_variable>
#include <mutex>

#include "absl/time/clock.h"

namespace voxflow::orchestrator {

absl::Time TurnClock::Now() const { return now ? now() : absl::Now(); }

int64_t TurnClock::After(absl::Duration delay, std::function<void()> callback) const {
  return timers->Schedule(absl::Now() + delay, std::move(callback));
}

bool TurnEnvironment::OnReplyAudio(v1::AudioChunk audio, const std::string& text,
                                   const CancellationToken& cancel) {
  struct Waiter {
    std::mutex mu;
    std::condition_variable changed;
    bool room = false;
  };
  auto waiter = std::make_shared<Waiter>();
  auto wake = [waiter] {
    std::lock_guard<std::mutex> lock(waiter->mu);
    waiter->room = true;
    waiter->changed.notify_all();
  };
  const int64_t on_cancel = cancel.OnCancel([wake](const absl::Status&) { wake(); });
  bool taken = false;
  while (!cancel.cancelled()) {
    const ReplyOffer offer = TryReplyAudio(audio, text);
    if (offer != ReplyOffer::kFull) {
      taken = offer == ReplyOffer::kTaken;
      break;
    }
    {
      std::lock_guard<std::mutex> lock(waiter->mu);
      waiter->room = false;
    }
    WhenReplyRoom(audio.data().size(), wake);
    std::unique_lock<std::mutex> lock(waiter->mu);
    waiter->changed.wait(lock, [&] { return waiter->room; });
  }
  cancel.RemoveCallback(on_cancel);
  return taken;
}

}  // namespace voxflow::orchestrator
