#include "services/common/sample_format.h"

#include <cmath>
#include <string>

#include "gtest/gtest.h"

namespace voxflow {
namespace {

TEST(SampleFormatTest, Pcm16RoundTripsExactly) {
  for (int v : {-32768, -12345, -1, 0, 1, 777, 32767}) {
    const char in[2] = {static_cast<char>(v & 0xFF), static_cast<char>((v >> 8) & 0xFF)};
    char out[2];
    EncodeSample(v1::PCM16, DecodeSample(v1::PCM16, in), out);
    EXPECT_EQ(std::string(in, 2), std::string(out, 2)) << v;
  }
}

TEST(SampleFormatTest, EveryFormatRoundTripsWithinItsPrecision) {
  struct Case {
    v1::AudioFormat format;
    int bytes;
    float tolerance;
  };
  for (const Case& c : {Case{v1::PCM16, 2, 1.0f / 32768}, Case{v1::PCM24, 3, 1.0f / 8388608},
                        Case{v1::PCM32, 4, 1e-6f}, Case{v1::FLOAT32, 4, 0.0f},
                        Case{v1::MULAW, 1, 0.02f}, Case{v1::ALAW, 1, 0.02f}}) {
    for (float value : {-0.9f, -0.5f, -0.01f, 0.0f, 0.01f, 0.25f, 0.75f}) {
      char buf[4];
      EncodeSample(c.format, value, buf);
      // G.711 is logarithmic: its error grows with the magnitude.
      const float tolerance = c.tolerance * (c.bytes == 1 ? (std::fabs(value) * 4 + 0.1f) : 1);
      EXPECT_NEAR(DecodeSample(c.format, buf), value, tolerance + 1e-7f)
          << v1::AudioFormat_Name(c.format) << " " << value;
    }
  }
}

TEST(SampleFormatTest, G711CodesRoundTripThroughLinear) {
  // Every 8-bit code decodes to a value that encodes back to the same code (except the
  // duplicate zero codes of mu-law, 0x7F and 0xFF, which both mean 0).
  for (int code = 0; code < 256; ++code) {
    for (v1::AudioFormat format : {v1::MULAW, v1::ALAW}) {
      const char in = static_cast<char>(code);
      char out;
      EncodeSample(format, DecodeSample(format, &in), &out);
      if (format == v1::MULAW && (code == 0x7F)) continue;
      EXPECT_EQ(static_cast<uint8_t>(out), code) << v1::AudioFormat_Name(format);
    }
  }
}

TEST(SampleFormatTest, SilenceDecodesToZero) {
  for (v1::AudioFormat format :
       {v1::PCM16, v1::PCM24, v1::PCM32, v1::FLOAT32, v1::MULAW, v1::ALAW}) {
    const char silence[4] = {SilenceByte(format), SilenceByte(format), SilenceByte(format),
                             SilenceByte(format)};
    EXPECT_NEAR(DecodeSample(format, silence), 0.0f, 0.001f) << v1::AudioFormat_Name(format);
  }
}

TEST(SampleFormatTest, RmsLevel) {
  char full[2];
  EncodeSample(v1::PCM16, 0.5f, full);
  std::string square;
  for (int i = 0; i < 100; ++i) square.append(full, 2);
  EXPECT_NEAR(RmsLevel(square, v1::PCM16), 0.5, 1e-4);
  EXPECT_EQ(RmsLevel(std::string(64, '\0'), v1::PCM16), 0.0);
  EXPECT_EQ(RmsLevel("", v1::FLOAT32), 0.0);
}

}  // namespace
}  // namespace voxflow
