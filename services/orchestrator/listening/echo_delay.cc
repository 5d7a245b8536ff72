#include "services/orchestrator/listening/echo_delay.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "services/orchestrator/listening/residual_echo_suppressor.h"

namespace voxflow::orchestrator {

void EchoDelay::Push(const int16_t* far, const int16_t* near, size_t samples) {
  far_db_.push_back(BlockDb(far, samples));
  near_db_.push_back(BlockDb(near, samples));
  if (far_db_.size() > kWindow + kMaxDelay) {
    far_db_.pop_front();
    near_db_.pop_front();
  }
  // Until a first estimate, one every 100 ms: an echo that is not found yet goes through.
  const size_t every = found_ ? kEvery : kEveryUntilFound;
  if (++since_estimate_ >= every && far_db_.size() >= kMinWindow + kMaxDelay) {
    since_estimate_ = 0;
    Estimate();
  }
}

void EchoDelay::Estimate() {
  // near[t] against far[t - d], over the last window blocks (fewer at the start), for each d:
  // the envelopes with their means taken off.
  const size_t n = near_db_.size();
  // Envelopes line up by chance over a short stretch of reply: it must have spoken for 300 ms.
  const auto spoke =
      std::count_if(far_db_.begin(), far_db_.end(), [](float db) { return db > kSpeakingDb; });
  // The caller's audio from when the reply began speaking (its echo cannot come before), and at
  // least a second of it: the caller's own question before the reply lines up with nothing.
  const auto first_spoke = static_cast<size_t>(
      std::find_if(far_db_.begin(), far_db_.end(), [](float db) { return db > kSpeakingDb; }) -
      far_db_.begin());
  const size_t window = std::clamp(n - std::min(first_spoke, n), kMinWindow, n - kMaxDelay);
  if (spoke < kMinSpokeBlocks) {
    confidence_ = 0;
    return;
  }
  // Not finding an echo means something once the reply has spoken for a second (and the echo of
  // its start has had time to come back).
  if (spoke >= kLookedSpokeBlocks) looked_ = true;
  std::vector<double> near(near_db_.begin() + (n - window), near_db_.end());
  // The reply's envelope in a vector: a deque's indexing was most of the search's cost.
  const std::vector<float> far_db(far_db_.begin(), far_db_.end());
  double near_mean = 0;
  for (double v : near) near_mean += v;
  near_mean /= window;
  double near_energy = 0;
  for (double& v : near) {
    v -= near_mean;
    near_energy += v * v;
  }
  double best = 0;
  size_t best_delay = 0;
  for (size_t d = 0; d <= kMaxDelay; ++d) {
    const size_t from = n - window - d;
    double far_mean = 0;
    for (size_t i = 0; i < window; ++i) far_mean += far_db[from + i];
    far_mean /= window;
    double cross = 0, far_energy = 0;
    for (size_t i = 0; i < window; ++i) {
      const double f = far_db[from + i] - far_mean;
      cross += near[i] * f;
      far_energy += f * f;
    }
    if (far_energy <= 0 || near_energy <= 0) continue;
    const double c = cross / std::sqrt(far_energy * near_energy);
    if (c > best) {
      best = c;
      best_delay = d;
    }
  }
  confidence_ = best;
  if (best < kConfident) return;
  // A best alignment at the end of the range is the edge of a step, not a peak: a caller who
  // starts talking more than 500 ms into the reply lines their onset up with the reply's there,
  // and was taken for its echo (on a phone line the suppressor then muted their barge-in).
  if (best_delay == kMaxDelay) return;
  const int delay = static_cast<int>(best_delay);
  // Once found, the delay moves only when two estimates in a row agree on where to (within
  // 20 ms): a reply paused and resumed over the caller can line the envelopes up elsewhere once.
  const bool confirmed = std::abs(delay - candidate_blocks_) <= 2;
  candidate_blocks_ = delay;
  if (!found_ || confirmed) delay_blocks_ = delay;
  found_ = true;
}

void NoiseFloor::Push(double block_energy) {
  sum_ += block_energy;
  loudest_ = std::max(loudest_, block_energy);
  if (++blocks_ < kBlocksPerWindow) return;
  windows_.push_back({sum_ / blocks_, loudest_});
  if (windows_.size() > kWindows) windows_.pop_front();
  sum_ = 0;
  loudest_ = 0;
  blocks_ = 0;
}

double NoiseFloor::quietest_block_energy() const {
  double quietest = windows_.empty() ? 0 : windows_.front().mean;
  for (const Window& window : windows_) quietest = std::min(quietest, window.mean);
  return quietest;
}

double NoiseFloor::swing() const {
  std::vector<double> ratios;
  ratios.reserve(windows_.size());
  for (const Window& window : windows_) {
    if (window.mean > 0) ratios.push_back(window.loudest / window.mean);
  }
  if (ratios.empty()) return 1;
  const auto middle = ratios.begin() + static_cast<std::ptrdiff_t>(ratios.size() / 2);
  std::nth_element(ratios.begin(), middle, ratios.end());
  return *middle;
}

}  // namespace voxflow::orchestrator
