// The sounds of a real room for the listening tests and benchmark: background noises (white, pink,
// brown, babble, music-like chords, mains hum) at a chosen level, and mixing. 16 kHz mono, float
// samples in PCM16 units. Seeded: the same seed makes the same room.
#ifndef VOXFLOW_TESTS_UTIL_ROOM_AUDIO_H_
#define VOXFLOW_TESTS_UTIL_ROOM_AUDIO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace voxflow::testing {

enum class Noise { kNone, kWhite, kPink, kBrown, kBabble, kMusic, kHum };

const char* NoiseName(Noise noise);
// Every noise but kNone.
std::vector<Noise> AllNoises();

using Samples = std::vector<float>;

Samples FromPcm16(const std::string& pcm);
std::string ToPcm16(const Samples& samples);
// Root mean square, in dBFS (a full-scale sine is -3 dBFS).
double RmsDbfs(const Samples& samples);
// `samples` scaled so that their RMS is `dbfs`.
Samples AtLevel(Samples samples, double dbfs);

// `samples_count` samples of `noise` at `dbfs` RMS. Babble mixes `voices` (speech clips, looped
// from random offsets), four at a time.
Samples MakeNoise(Noise noise, size_t samples_count, double dbfs, uint32_t seed,
                  const std::vector<Samples>& voices);

// `add` mixed into `into` from sample `at` (clipped to `into`'s length).
void MixInto(Samples& into, const Samples& add, size_t at);

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_ROOM_AUDIO_H_
