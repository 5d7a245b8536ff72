// Reading and writing single samples of any sample-framed AudioFormat as floats in [-1, 1], for
// the few places that must touch sample values (fades, crossfades, mixing). G.711 included.
#ifndef VOXFLOW_SERVICES_COMMON_SAMPLE_FORMAT_H_
#define VOXFLOW_SERVICES_COMMON_SAMPLE_FORMAT_H_

#include <array>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "voxflow/v1/audio.pb.h"

namespace voxflow {

// `data` points at one sample of `format` (PCM16/24/32, FLOAT32, MULAW, ALAW; little-endian).
float DecodeSample(v1::AudioFormat format, const char* data);

// Writes `value` (clamped to [-1, 1]) as one sample of `format` at `data`.
void EncodeSample(v1::AudioFormat format, float value, char* data);

// G.711 (`law`: MULAW or ALAW) to and from 16-bit linear samples, exactly as DecodeSample and
// EncodeSample through floats do, without them (a phone line's audio, sample for sample): the
// sample of every code, and the code of every sample (indexed by the sample as uint16_t).
const std::array<int16_t, 256>& G711DecodeTable(v1::AudioFormat law);
const std::array<uint8_t, 65536>& G711EncodeTable(v1::AudioFormat law);

// Root-mean-square level of `data` (whole samples of `format`) in [0, 1]; 0 for no samples.
double RmsLevel(absl::string_view data, v1::AudioFormat format);

// The encoding of digital silence (0.0) in `format`: 0 for PCM and float, 0xFF for mu-law, 0xD5
// for A-law.
char SilenceByte(v1::AudioFormat format);

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_SAMPLE_FORMAT_H_
