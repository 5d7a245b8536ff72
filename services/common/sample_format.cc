#include "services/common/sample_format.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace voxflow {
namespace {

// G.711 per ITU-T (the classic Sun reference algorithm), on 16-bit linear samples.
int16_t MulawToLinear(uint8_t u) {
  u = ~u;
  int t = ((u & 0x0F) << 3) + 0x84;
  t <<= (u & 0x70) >> 4;
  return static_cast<int16_t>((u & 0x80) ? (0x84 - t) : (t - 0x84));
}

uint8_t LinearToMulaw(int16_t pcm) {
  constexpr int kBias = 0x84, kClip = 32635;
  int sign = (pcm >> 8) & 0x80;
  int value = sign ? -static_cast<int>(pcm) : pcm;
  value = std::min(value, kClip) + kBias;
  int exponent = 7;
  for (int mask = 0x4000; (value & mask) == 0 && exponent > 0; mask >>= 1) --exponent;
  const int mantissa = (value >> (exponent + 3)) & 0x0F;
  return static_cast<uint8_t>(~(sign | (exponent << 4) | mantissa));
}

int16_t AlawToLinear(uint8_t a) {
  a ^= 0x55;
  int t = (a & 0x0F) << 4;
  const int segment = (a & 0x70) >> 4;
  if (segment == 0) {
    t += 8;
  } else {
    t += 0x108;
    t <<= segment - 1;
  }
  return static_cast<int16_t>((a & 0x80) ? t : -t);
}

uint8_t LinearToAlaw(int16_t pcm) {
  int sign = 0x80;
  int value = pcm;
  if (value < 0) {
    sign = 0;
    value = -value - 1;
  }
  value = std::min(value, 32767);
  int segment = 0;
  for (int bound = 0xFF; value > bound && segment < 8; bound = (bound << 1) | 1) ++segment;
  uint8_t a;
  if (segment >= 8) {
    a = 0x7F;
  } else {
    const int shift = segment < 2 ? 4 : segment + 3;
    a = static_cast<uint8_t>((segment << 4) | ((value >> shift) & 0x0F));
  }
  return static_cast<uint8_t>((a | sign) ^ 0x55);
}

// Full scale is 2^(bits-1) both ways, so integer samples round-trip exactly; +1.0 clamps to the
// largest positive code.
int16_t ToInt16(float value) {
  return static_cast<int16_t>(std::clamp<long>(std::lround(value * 32768.0f), -32768, 32767));
}

}  // namespace

namespace {

// Every code's sample, and every sample's code, made once from the reference functions above:
// a phone line's audio goes through them sample by sample (through floats, about 30 % of an idle
// echo canceller's cost).
template <int16_t (*Decode)(uint8_t)>
const std::array<int16_t, 256>& DecodeTable() {
  static const std::array<int16_t, 256> table = [] {
    std::array<int16_t, 256> t{};
    for (int c = 0; c < 256; ++c) t[static_cast<size_t>(c)] = Decode(static_cast<uint8_t>(c));
    return t;
  }();
  return table;
}

template <uint8_t (*Encode)(int16_t)>
const std::array<uint8_t, 65536>& EncodeTable() {
  static const std::array<uint8_t, 65536> table = [] {
    std::array<uint8_t, 65536> t{};
    for (int v = -32768; v <= 32767; ++v) {
      t[static_cast<uint16_t>(v)] = Encode(static_cast<int16_t>(v));
    }
    return t;
  }();
  return table;
}

}  // namespace

const std::array<int16_t, 256>& G711DecodeTable(v1::AudioFormat law) {
  return law == v1::MULAW ? DecodeTable<MulawToLinear>() : DecodeTable<AlawToLinear>();
}

const std::array<uint8_t, 65536>& G711EncodeTable(v1::AudioFormat law) {
  return law == v1::MULAW ? EncodeTable<LinearToMulaw>() : EncodeTable<LinearToAlaw>();
}

float DecodeSample(v1::AudioFormat format, const char* data) {
  const auto* b = reinterpret_cast<const uint8_t*>(data);
  switch (format) {
    case v1::PCM16:
      return static_cast<int16_t>(b[0] | (b[1] << 8)) / 32768.0f;
    case v1::PCM24: {
      int32_t v = b[0] | (b[1] << 8) | (b[2] << 16);
      if (v & 0x800000) v -= 0x1000000;
      return v / 8388608.0f;
    }
    case v1::PCM32: {
      int32_t v;
      std::memcpy(&v, data, 4);
      return static_cast<float>(v / 2147483648.0);
    }
    case v1::FLOAT32: {
      float v;
      std::memcpy(&v, data, 4);
      return v;
    }
    case v1::MULAW:
      return MulawToLinear(b[0]) / 32768.0f;
    case v1::ALAW:
      return AlawToLinear(b[0]) / 32768.0f;
    default:
      return 0.0f;
  }
}

void EncodeSample(v1::AudioFormat format, float value, char* data) {
  value = std::clamp(value, -1.0f, 1.0f);
  switch (format) {
    case v1::PCM16: {
      const int16_t v = ToInt16(value);
      data[0] = static_cast<char>(v & 0xFF);
      data[1] = static_cast<char>((v >> 8) & 0xFF);
      return;
    }
    case v1::PCM24: {
      const int32_t v =
          static_cast<int32_t>(std::clamp<long>(std::lround(value * 8388608.0), -8388608, 8388607));
      data[0] = static_cast<char>(v & 0xFF);
      data[1] = static_cast<char>((v >> 8) & 0xFF);
      data[2] = static_cast<char>((v >> 16) & 0xFF);
      return;
    }
    case v1::PCM32: {
      const int32_t v = static_cast<int32_t>(
          std::clamp<long long>(std::llround(value * 2147483648.0), INT32_MIN, INT32_MAX));
      std::memcpy(data, &v, 4);
      return;
    }
    case v1::FLOAT32:
      std::memcpy(data, &value, 4);
      return;
    case v1::MULAW:
      data[0] = static_cast<char>(LinearToMulaw(ToInt16(value)));
      return;
    case v1::ALAW:
      data[0] = static_cast<char>(LinearToAlaw(ToInt16(value)));
      return;
    default:
      return;
  }
}

double RmsLevel(absl::string_view data, v1::AudioFormat format) {
  int bytes = 0;
  switch (format) {
    case v1::PCM16:
      bytes = 2;
      break;
    case v1::PCM24:
      bytes = 3;
      break;
    case v1::PCM32:
    case v1::FLOAT32:
      bytes = 4;
      break;
    case v1::MULAW:
    case v1::ALAW:
      bytes = 1;
      break;
    default:
      return 0;
  }
  const size_t n = data.size() / static_cast<size_t>(bytes);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const double v = DecodeSample(format, data.data() + i * bytes);
    sum += v * v;
  }
  return n == 0 ? 0 : std::sqrt(sum / static_cast<double>(n));
}

char SilenceByte(v1::AudioFormat format) {
  switch (format) {
    case v1::MULAW:
      return static_cast<char>(0xFF);
    case v1::ALAW:
      return static_cast<char>(0xD5);
    default:
      return 0;
  }
}

}  // namespace voxflow
