// JitterBuffer with arbitrary options and chunk streams: sequence numbers in any order (gaps of
// any size, duplicates, wraps), arrival times, mismatched formats, reads of any length. Each read
// must cost time bounded by what it returns.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "fuzz/fuzz_input.h"
#include "services/common/streaming/jitter_buffer.h"
#include "spdlog/spdlog.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace voxflow;  // NOLINT: a fuzz target.
  fuzz::FuzzInput in(data, size);
  static constexpr int kRates[] = {8000, 16000, 24000, 48000};
  streaming::JitterBufferOptions options;
  options.target_duration_ms = static_cast<int>(in.IntInRange(0, 1000));
  options.max_duration_ms = static_cast<int>(in.IntInRange(0, 5000));
  options.format = static_cast<v1::AudioFormat>(in.IntInRange(0, 5));
  options.sample_rate = in.Pick(kRates);
  options.channels = static_cast<int>(in.IntInRange(1, 2));
  options.order_by_sequence = in.Bool();
  options.adaptive = in.Bool();
  options.max_compression = in.Bool() ? 0.0 : 0.25;
  int events = 0;
  options.emitter = [&events](absl::string_view, const streaming::EventAttributes&) { ++events; };
  absl::StatusOr<std::unique_ptr<streaming::JitterBuffer>> buffer =
      streaming::JitterBuffer::Create(options);
  if (!buffer.ok()) return 0;

  absl::Time now = absl::UnixEpoch() + absl::Hours(1);
  uint64_t sequence = 0;
  int64_t timestamp_ms = 0;
  while (!in.empty()) {
    now += absl::Milliseconds(in.IntInRange(0, 200));
    switch (in.IntInRange(0, 6)) {
      case 0:
      case 1: {  // Next chunk, or a jump anywhere.
        v1::AudioChunk chunk;
        const bool jump = in.Byte() < 32;
        sequence = jump ? in.Integral<uint64_t>() : sequence + 1;
        timestamp_ms = jump ? in.Integral<int64_t>() : timestamp_ms + 20;
        chunk.set_sequence(sequence);
        chunk.set_timestamp_ms(timestamp_ms);
        chunk.set_format(in.Byte() < 16 ? static_cast<v1::AudioFormat>(in.IntInRange(-1, 7))
                                        : options.format);
        chunk.set_sample_rate(in.Byte() < 16 ? in.Integral<int32_t>() : options.sample_rate);
        chunk.set_channels(options.channels);
        chunk.set_data(in.Bytes(4000));
        (void)(*buffer)->Push(std::move(chunk), now);
        break;
      }
      case 2:
        (void)(*buffer)->Read(static_cast<double>(in.IntInRange(0, 500)));
        break;
      case 3:
        (void)(*buffer)->ReadFrames(static_cast<size_t>(in.IntInRange(0, 48000)));
        break;
      case 4:
        (*buffer)->StartPlayout();
        (void)(*buffer)->ContiguousFrames();
        break;
      case 5:
        (void)(*buffer)->stats();
        break;
      case 6:
        if (in.Byte() < 32) (*buffer)->Flush();
        break;
    }
  }
  return 0;
}
