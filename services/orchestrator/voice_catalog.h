// The voices the TTS backend offers (its ListVoices), kept fresh in the background so that a
// session's config.voice and config.language are checked when the session starts, without a call
// on the session's path. A config the backend cannot speak is INVALID_ARGUMENT at once, instead of
// a failure in every turn.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_VOICE_CATALOG_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_VOICE_CATALOG_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/backend.h"
#include "services/common/timer_queue.h"
#include "voxflow/v1/tts.pb.h"

namespace voxflow::orchestrator {

class VoiceCatalog {
 public:
  // The backend's answer (the provider named by its voices).
  void Update(std::vector<v1::Voice> voices);

  // Whether the TTS backend can speak with `voice` (exact name) or, when empty, in `language`,
  // as it would select (tts::SelectVoice): INVALID_ARGUMENT naming config.voice or
  // config.language. OK while the voices are unknown (the backend not reached yet): the tts stage
  // reports then.
  absl::Status Check(const std::string& voice, const std::string& language) const;

  bool known() const;
  // The voices (empty while unknown).
  std::vector<v1::Voice> voices() const;
  // Waits up to `timeout` for the first answer; whether it came.
  bool WaitUntilKnown(absl::Duration timeout) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable known_cv_;
  std::optional<std::vector<v1::Voice>> voices_;
  std::string provider_;
};

// Fills `catalog` from `tts`'s ListVoices at once, then every `refresh` (every 5 s until the first
// answer). Stops when `catalog` is destroyed; `tts` must outlive it.
void KeepVoiceCatalogFresh(std::shared_ptr<VoiceCatalog> catalog, const Backend* tts,
                           TimerQueue* timers, absl::Duration refresh = absl::Minutes(1));

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_VOICE_CATALOG_H_
