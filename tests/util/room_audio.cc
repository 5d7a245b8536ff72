#include "tests/util/room_audio.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace voxflow::testing {

const char* NoiseName(Noise noise) {
  switch (noise) {
    case Noise::kNone:
      return "none";
    case Noise::kWhite:
      return "white";
    case Noise::kPink:
      return "pink";
    case Noise::kBrown:
      return "brown";
    case Noise::kBabble:
      return "babble";
    case Noise::kMusic:
      return "music";
    case Noise::kHum:
      return "hum";
  }
  return "?";
}

std::vector<Noise> AllNoises() {
  return {Noise::kWhite, Noise::kPink, Noise::kBrown, Noise::kBabble, Noise::kMusic, Noise::kHum};
}

Samples FromPcm16(const std::string& pcm) {
  Samples out(pcm.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int16_t v;
    std::memcpy(&v, pcm.data() + 2 * i, 2);
    out[i] = v;
  }
  return out;
}

std::string ToPcm16(const Samples& samples) {
  std::string pcm(samples.size() * 2, '\0');
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto v = static_cast<int16_t>(std::lround(std::clamp(samples[i], -32767.0f, 32767.0f)));
    std::memcpy(pcm.data() + 2 * i, &v, 2);
  }
  return pcm;
}

double RmsDbfs(const Samples& samples) {
  double sum = 0;
  for (float s : samples) sum += double(s) * s;
  const double rms = std::sqrt(sum / std::max<size_t>(samples.size(), 1));
  return 20 * std::log10(std::max(rms, 1e-9) / 32767);
}

Samples AtLevel(Samples samples, double dbfs) {
  const double gain = std::pow(10, (dbfs - RmsDbfs(samples)) / 20);
  for (float& s : samples) s = static_cast<float>(s * gain);
  return samples;
}

Samples MakeNoise(Noise noise, size_t n, double dbfs, uint32_t seed,
                  const std::vector<Samples>& voices) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  Samples out(n, 0.0f);
  switch (noise) {
    case Noise::kNone:
      return out;
    case Noise::kWhite:
      for (float& s : out) s = static_cast<float>(normal(rng));
      break;
    case Noise::kPink: {
      // Paul Kellet's economy filter: -3 dB/octave from white.
      double b0 = 0, b1 = 0, b2 = 0;
      for (float& s : out) {
        const double w = normal(rng);
        b0 = 0.99765 * b0 + w * 0.0990460;
        b1 = 0.96300 * b1 + w * 0.2965164;
        b2 = 0.57000 * b2 + w * 1.0526913;
        s = static_cast<float>(b0 + b1 + b2 + w * 0.1848);
      }
      break;
    }
    case Noise::kBrown: {
      // Leaky integration of white: -6 dB/octave, a car's rumble.
      double y = 0;
      for (float& s : out) {
        y = 0.995 * y + normal(rng);
        s = static_cast<float>(y);
      }
      break;
    }
    case Noise::kBabble:
      // Four voices at a time, each looping its clip from a random offset.
      for (int voice = 0; voice < 4 && !voices.empty(); ++voice) {
        const Samples& src = voices[rng() % voices.size()];
        if (src.empty()) continue;
        size_t at = rng() % src.size();
        for (float& s : out) {
          s += src[at];
          at = (at + 1) % src.size();
        }
      }
      break;
    case Noise::kMusic: {
      // Chords of three harmonic notes changing every 150 ms.
      double f[3] = {0, 0, 0};
      for (size_t i = 0; i < n; ++i) {
        if (i % 2400 == 0) {
          const double root = 220 * std::pow(2.0, (rng() % 12) / 12.0);
          f[0] = root, f[1] = root * 1.26, f[2] = root * 1.5;
        }
        double v = 0;
        for (double hz : f) {
          for (int h = 1; h <= 3; ++h) v += std::sin(2 * M_PI * hz * h * i / 16000) / h;
        }
        out[i] = static_cast<float>(v);
      }
      break;
    }
    case Noise::kHum:
      // Mains hum: 50 Hz and its odd harmonics, as a transformer buzzes.
      for (size_t i = 0; i < n; ++i) {
        double v = 0;
        for (int h = 1; h <= 9; h += 2) v += std::sin(2 * M_PI * 50 * h * i / 16000) / h;
        out[i] = static_cast<float>(v);
      }
      break;
  }
  return AtLevel(std::move(out), dbfs);
}

void MixInto(Samples& into, const Samples& add, size_t at) {
  for (size_t i = 0; i < add.size() && at + i < into.size(); ++i) into[at + i] += add[i];
}

}  // namespace voxflow::testing
