#include "services/orchestrator/listening/residual_echo_suppressor.h"

#include <algorithm>
#include <cmath>

namespace voxflow::orchestrator {

double BlockEnergy(const int16_t* block, size_t samples) {
  double energy = 0;
  for (size_t i = 0; i < samples; ++i) energy += double(block[i]) * block[i];
  return energy;
}

float BlockDb(const int16_t* block, size_t samples) {
  return static_cast<float>(
      10 * std::log10(BlockEnergy(block, samples) / static_cast<double>(samples) + 1.0));
}

bool ResidualEchoSuppressor::Process(const int16_t* far, int16_t* near, size_t samples,
                                     double echo_loss_db) {
  far_db_.push_back(BlockDb(far, samples));
  if (far_db_.size() > kWindowBlocks) far_db_.pop_front();
  const float far_max = *std::max_element(far_db_.begin(), far_db_.end());
  if (far_max < kSilentDb || echo_loss_db >= kNoEchoDb) return false;
  const double loss = echo_loss_db == kUncancelled ? 0
                      : echo_loss_db < 0
                          ? kMinEchoLossDb
                          : std::clamp(echo_loss_db - kMarginDb, kMinEchoLossDb, kMaxEchoLossDb);
  // No hangover after a block that went through: measured, letting the quieter blocks after the
  // caller's through let the echo's residue through too (self-interruptions), and did not catch
  // the caller sooner.
  if (BlockDb(near, samples) > far_max - loss) return false;
  const double gain = std::pow(10.0, -kSuppressionDb / 20);
  for (size_t i = 0; i < samples; ++i) {
    near[i] = static_cast<int16_t>(std::lround(near[i] * gain));
  }
  ++suppressed_blocks_;
  return true;
}

}  // namespace voxflow::orchestrator
