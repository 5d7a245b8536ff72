#include "services/stt/silence_cut.h"

#include <cstdint>
#include <cstring>
#include <limits>

namespace voxflow::stt {

size_t QuietestCut(absl::string_view pcm, int sample_rate) {
  const size_t frame = static_cast<size_t>(sample_rate / 50) * 2;  // 20 ms.
  const size_t samples = pcm.size() / 2;
  if (frame == 0 || pcm.size() < 2 * frame) return samples / 2 * 2 > 0 ? samples / 2 * 2 : 2;
  size_t best = pcm.size() / 2 / frame * frame;
  double best_energy = std::numeric_limits<double>::max();
  for (size_t at = pcm.size() / 2 / frame * frame; at + frame <= pcm.size(); at += frame) {
    double energy = 0;
    for (size_t i = at; i < at + frame; i += 2) {
      int16_t sample;
      std::memcpy(&sample, pcm.data() + i, 2);
      energy += static_cast<double>(sample) * sample;
    }
    if (energy < best_energy) {
      best_energy = energy;
      best = at;
    }
  }
  return best + frame / 2 / 2 * 2;
}

}  // namespace voxflow::stt
