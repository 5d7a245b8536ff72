#include "services/orchestrator/session_move.h"

namespace voxflow::orchestrator {

bool SessionMove::Request(absl::Time now) {
  if (!client_follows_) return false;
  if (!requested_) {
    requested_ = true;
    requested_at_ = now;
  }
  return true;
}

bool SessionMove::Due(bool at_boundary, absl::Time now) const {
  if (!requested_ || moved_) return false;
  return at_boundary || now - requested_at_ >= bound_;
}

bool SessionMove::TakeAudio(int64_t bytes) {
  if (moved_) return false;
  audio_bytes_used_ += bytes;
  return true;
}

}  // namespace voxflow::orchestrator
