// TtsSession's sentence segmentation on arbitrary (often invalid) UTF-8 in arbitrary pieces, with
// the mock engine: every piece is refused with a status or rendered, never a crash or a split
// inside a character.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz/fuzz_input.h"
#include "mocks/mock_tts_engine.h"
#include "services/tts/tts_session.h"
#include "spdlog/spdlog.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace voxflow;  // NOLINT: a fuzz target.
  static auto* engine = new mocks::MockTtsEngine({.bytes_per_char = 2, .latency_ms = 0});
  fuzz::FuzzInput in(data, size);
  static constexpr int kRates[] = {8000, 16000, 22050, 48000};
  v1::SynthesisConfig config;
  config.mutable_output_format()->set_format(static_cast<v1::AudioFormat>(in.IntInRange(0, 5)));
  config.mutable_output_format()->set_sample_rate(in.Pick(kRates));
  config.mutable_output_format()->set_channels(static_cast<int32_t>(in.IntInRange(1, 2)));
  config.set_chunk_duration_ms(static_cast<int32_t>(in.IntInRange(0, 1200)));
  if (in.Byte() < 32) config.set_voice(in.Bytes(16));
  size_t audio_bytes = 0;
  tts::TtsLimits limits;
  limits.max_stream_bytes = 20000;
  absl::StatusOr<std::unique_ptr<tts::TtsSession>> session = tts::TtsSession::Create(
      engine, config,
      [&audio_bytes](v1::SynthesizeResponse response) {
        audio_bytes += response.audio().data().size();
      },
      limits);
  if (!session.ok()) return 0;
  while (!in.empty()) {
    if (in.Byte() < 24) {
      if (!(*session)->Flush().ok()) return 0;
      continue;
    }
    v1::TextPiece piece;
    piece.set_text(in.Bytes(600));
    if (in.Bool()) piece.set_piece_id(in.Bytes(8));
    if (!(*session)->PushText(piece).ok()) return 0;
  }
  (void)(*session)->Finish();
  return 0;
}
