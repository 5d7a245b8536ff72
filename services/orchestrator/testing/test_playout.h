// A reply playout for tests: 16 kHz mono PCM16, 20 ms frames sent 60 ms ahead, over a jitter
// buffer that plays what it is given at once; and reply audio for it.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_TEST_PLAYOUT_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_TEST_PLAYOUT_H_

#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/common/streaming/jitter_buffer.h"
#include "services/orchestrator/reply_playout.h"

namespace voxflow::orchestrator::testing {

// `ms` of reply audio.
inline v1::AudioChunk ReplyAudio(int ms) {
  v1::AudioChunk chunk;
  chunk.set_data(std::string(32 * ms, '\1'));
  chunk.set_format(v1::PCM16);
  chunk.set_sample_rate(16000);
  chunk.set_channels(1);
  return chunk;
}

// Holding at most `max_buffered_ms` ahead (a tts offering more waits for room).
inline std::unique_ptr<ReplyPlayout> MakeTestPlayout(int max_buffered_ms) {
  streaming::JitterBufferOptions buffer;
  buffer.target_duration_ms = 0;
  buffer.max_duration_ms = 5000;
  buffer.order_by_sequence = false;
  buffer.max_compression = 0;
  auto jitter = streaming::JitterBuffer::Create(buffer);
  EXPECT_TRUE(jitter.ok()) << jitter.status();
  return std::make_unique<ReplyPlayout>(
      *std::move(jitter), MakeStreamFormat(v1::PCM16, 16000, 1),
      ReplyPlayout::Options{.frame_ms = 20, .lead_ms = 60, .max_buffered_ms = max_buffered_ms});
}

}  // namespace voxflow::orchestrator::testing

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_TEST_PLAYOUT_H_
