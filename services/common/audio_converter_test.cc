#include "services/common/audio_converter.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/common/sample_format.h"

namespace voxflow {
namespace {

// `seconds` of a sine at `hz` in `format`, the same on every channel.
std::string Sine(const v1::AudioStreamFormat& f, double hz, double seconds, float amplitude) {
  const int bytes = f.format() == v1::PCM16 ? 2 : 4;
  const size_t frames = static_cast<size_t>(seconds * f.sample_rate());
  std::string out(frames * f.channels() * bytes, '\0');
  for (size_t i = 0; i < frames; ++i) {
    const float v = amplitude * static_cast<float>(std::sin(2 * M_PI * hz * i / f.sample_rate()));
    for (int c = 0; c < f.channels(); ++c) {
      EncodeSample(f.format(), v, &out[(i * f.channels() + c) * bytes]);
    }
  }
  return out;
}

int ZeroCrossings(const std::vector<float>& s) {
  int n = 0;
  for (size_t i = 1; i < s.size(); ++i) n += (s[i - 1] < 0) != (s[i] < 0);
  return n;
}

TEST(AudioConverterTest, SameFormatIsIdentity) {
  const auto f = MakeStreamFormat(v1::PCM16, 16000, 1);
  auto converter = AudioConverter::Create(f, f);
  ASSERT_TRUE(converter.ok()) << converter.status();
  const std::string in = Sine(f, 440, 0.1, 0.5f);
  EXPECT_EQ(*(*converter)->Convert(in), in);
  EXPECT_EQ((*converter)->Flush(), "");
}

TEST(AudioConverterTest, Resamples48kStereoFloatTo16kMonoPcm16) {
  const auto from = MakeStreamFormat(v1::FLOAT32, 48000, 2);
  const auto to = MakeStreamFormat(v1::PCM16, 16000, 1);
  auto converter = *AudioConverter::Create(from, to);
  const std::string in = Sine(from, 440, 1.0, 0.5f);
  // In pieces of 20 ms, as a stream arrives.
  std::string out;
  const size_t piece = 960 * 2 * 4;
  for (size_t at = 0; at < in.size(); at += piece) {
    out += *converter->Convert(absl::string_view(in).substr(at, piece));
  }
  out += converter->Flush();
  ASSERT_EQ(out.size() % 2, 0u);
  const size_t frames = out.size() / 2;
  EXPECT_NEAR(static_cast<double>(frames), 16000, 2);
  std::vector<float> samples;
  for (size_t i = 0; i < frames; ++i) samples.push_back(DecodeSample(v1::PCM16, &out[i * 2]));
  EXPECT_NEAR(ZeroCrossings(samples), 880, 4) << "the pitch is kept";
  float peak = 0;
  for (size_t i = 1000; i < frames - 1000; ++i) peak = std::max(peak, std::fabs(samples[i]));
  EXPECT_NEAR(peak, 0.5f, 0.02f) << "the level is kept";
}

TEST(AudioConverterTest, UpsamplesAndUpmixes) {
  const auto from = MakeStreamFormat(v1::PCM16, 22050, 1);
  const auto to = MakeStreamFormat(v1::PCM16, 48000, 2);
  auto converter = *AudioConverter::Create(from, to);
  std::string out = *converter->Convert(Sine(from, 300, 0.5, 0.3f));
  out += converter->Flush();
  EXPECT_NEAR(static_cast<double>(out.size() / 4), 24000, 2);
  // Both channels carry the same signal.
  for (size_t i = 0; i + 3 < out.size(); i += 4) {
    ASSERT_EQ(out.substr(i, 2), out.substr(i + 2, 2));
  }
}

// G.711 to and from PCM16 at one rate takes a path in integers: every code and every 16-bit
// sample come out as through floats (DecodeSample, EncodeSample).
TEST(AudioConverterTest, G711AndPcm16AtOneRateAreExactlyTheFloatPath) {
  for (v1::AudioFormat law : {v1::MULAW, v1::ALAW}) {
    const v1::AudioStreamFormat g711 = MakeStreamFormat(law, 8000, 1);
    const v1::AudioStreamFormat pcm = MakeStreamFormat(v1::PCM16, 8000, 1);
    std::string codes(256, '\0');
    for (int c = 0; c < 256; ++c) codes[static_cast<size_t>(c)] = static_cast<char>(c);
    auto decoded = (*AudioConverter::Create(g711, pcm))->Convert(codes);
    ASSERT_TRUE(decoded.ok());
    ASSERT_EQ(decoded->size(), 512u);
    for (size_t c = 0; c < 256; ++c) {
      char expected[2];
      EncodeSample(v1::PCM16, DecodeSample(law, &codes[c]), expected);
      EXPECT_EQ(decoded->substr(2 * c, 2), std::string(expected, 2)) << law << " code " << c;
    }
    std::string samples;
    for (int v = -32768; v <= 32767; ++v) {
      samples.push_back(static_cast<char>(v & 0xFF));
      samples.push_back(static_cast<char>((v >> 8) & 0xFF));
    }
    auto encoded = (*AudioConverter::Create(pcm, g711))->Convert(samples);
    ASSERT_TRUE(encoded.ok());
    ASSERT_EQ(encoded->size(), 65536u);
    for (size_t i = 0; i < 65536; ++i) {
      char expected;
      EncodeSample(law, DecodeSample(v1::PCM16, &samples[2 * i]), &expected);
      ASSERT_EQ((*encoded)[i], expected) << law << " sample " << static_cast<int>(i) - 32768;
    }
    // A partial stereo frame is still refused.
    EXPECT_FALSE((*AudioConverter::Create(MakeStreamFormat(law, 8000, 2),
                                          MakeStreamFormat(v1::PCM16, 8000, 2)))
                     ->Convert("abc")
                     .ok());
  }
}

TEST(AudioConverterTest, ConvertAfterFlushIsAnError) {
  auto converter = *AudioConverter::Create(MakeStreamFormat(v1::PCM16, 16000, 1),
                                           MakeStreamFormat(v1::PCM16, 8000, 1));
  converter->Flush();
  EXPECT_EQ(converter->Convert("ab").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(converter->Flush(), "");
}

TEST(AudioConverterTest, RejectsPartialFramesAndBadFormats) {
  auto converter = *AudioConverter::Create(MakeStreamFormat(v1::PCM16, 16000, 2),
                                           MakeStreamFormat(v1::PCM16, 16000, 1));
  EXPECT_EQ(converter->Convert("abc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AudioConverter::Create(MakeStreamFormat(v1::PCM16, 3, 1),
                                   MakeStreamFormat(v1::PCM16, 16000, 1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace voxflow
