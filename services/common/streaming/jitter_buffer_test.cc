#include "services/common/streaming/jitter_buffer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/sample_format.h"

namespace voxflow::streaming {
namespace {

using ::testing::ElementsAre;

constexpr int kRate = 16000;
constexpr size_t kFramesPer20Ms = 320;

// A 20 ms PCM16 mono chunk whose samples all equal `value`.
v1::AudioChunk Chunk(uint64_t seq, int16_t value, size_t frames = kFramesPer20Ms) {
  v1::AudioChunk chunk;
  chunk.set_format(v1::PCM16);
  chunk.set_sample_rate(kRate);
  chunk.set_channels(1);
  chunk.set_sequence(seq);
  chunk.set_timestamp_ms(static_cast<int64_t>(seq * 20));
  std::string data(frames * 2, '\0');
  for (size_t i = 0; i < frames; ++i) EncodeSample(v1::PCM16, value / 32768.0f, &data[i * 2]);
  chunk.set_data(data);
  return chunk;
}

// A 20 ms chunk of a 440 Hz sine, continuous across chunks.
v1::AudioChunk SineChunk(uint64_t seq, float amplitude = 0.5f) {
  v1::AudioChunk chunk = Chunk(seq, 0);
  std::string data(kFramesPer20Ms * 2, '\0');
  for (size_t i = 0; i < kFramesPer20Ms; ++i) {
    const double t = static_cast<double>(seq * kFramesPer20Ms + i) / kRate;
    EncodeSample(v1::PCM16, amplitude * static_cast<float>(std::sin(2 * M_PI * 440 * t)),
                 &data[i * 2]);
  }
  chunk.set_data(data);
  return chunk;
}

std::vector<float> Samples(const std::string& pcm16) {
  std::vector<float> samples;
  for (size_t i = 0; i + 1 < pcm16.size(); i += 2) {
    samples.push_back(DecodeSample(v1::PCM16, &pcm16[i]));
  }
  return samples;
}

int16_t LastValue(const PlayoutFrame& frame) {
  return static_cast<int16_t>(std::lround(Samples(frame.data).back() * 32768.0f));
}

JitterBufferOptions Fixed(int target_ms, int max_ms = 2000) {
  JitterBufferOptions options;
  options.target_duration_ms = target_ms;
  options.max_duration_ms = max_ms;
  options.max_compression = 0;
  return options;
}

std::unique_ptr<JitterBuffer> Make(JitterBufferOptions options) {
  auto buffer = JitterBuffer::Create(std::move(options));
  EXPECT_TRUE(buffer.ok()) << buffer.status();
  return *std::move(buffer);
}

class EventLog {
 public:
  EventEmitter Emitter() {
    return [this](absl::string_view name, const EventAttributes& attributes) {
      std::lock_guard<std::mutex> lock(mu_);
      events.emplace_back(std::string(name), attributes);
    };
  }
  std::vector<std::string> Names() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> names;
    for (const auto& e : events) names.push_back(e.first);
    return names;
  }
  std::mutex mu_;
  std::vector<std::pair<std::string, EventAttributes>> events;
};

TEST(JitterBufferTest, PresetsFollowTheGuide) {
  EXPECT_EQ(JitterBufferOptions::VoiceChat().target_duration_ms, 100);
  EXPECT_EQ(JitterBufferOptions::VoiceChat().max_duration_ms, 500);
  EXPECT_EQ(JitterBufferOptions::Recording().target_duration_ms, 500);
  EXPECT_EQ(JitterBufferOptions::Recording().max_duration_ms, 5000);
  JitterBufferOptions defaults;
  EXPECT_EQ(defaults.target_duration_ms, 200);
  EXPECT_EQ(defaults.max_duration_ms, 2000);
  EXPECT_EQ(defaults.sample_rate, 16000);
  EXPECT_EQ(defaults.channels, 1);
}

TEST(JitterBufferTest, RejectsBadOptions) {
  JitterBufferOptions options;
  options.sample_rate = 1234567;
  EXPECT_EQ(JitterBuffer::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = Fixed(300, 200);
  EXPECT_EQ(JitterBuffer::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JitterBufferTest, ContiguousFramesStopAtAGap) {
  auto buffer = *JitterBuffer::Create(Fixed(100));
  EXPECT_EQ(buffer->ContiguousFrames(), 0u);
  ASSERT_TRUE(buffer->Push(Chunk(5, 1)).ok());
  ASSERT_TRUE(buffer->Push(Chunk(6, 2)).ok());
  ASSERT_TRUE(buffer->Push(Chunk(8, 4)).ok());  // 7 is missing.
  EXPECT_EQ(buffer->ContiguousFrames(), 2 * kFramesPer20Ms) << "5 and 6, before playout";
  // A consumer that reads in-order audio at once, below the 100 ms target.
  buffer->StartPlayout();
  const PlayoutFrame first = buffer->ReadFrames(kFramesPer20Ms);
  EXPECT_EQ(LastValue(first), 1);
  EXPECT_EQ(buffer->ContiguousFrames(), kFramesPer20Ms);
  EXPECT_EQ(LastValue(buffer->ReadFrames(kFramesPer20Ms)), 2);
  EXPECT_EQ(buffer->ContiguousFrames(), 0u) << "the gap at 7 holds 8 back";
  ASSERT_TRUE(buffer->Push(Chunk(7, 3)).ok());
  EXPECT_EQ(buffer->ContiguousFrames(), 2 * kFramesPer20Ms);
  EXPECT_EQ(LastValue(buffer->ReadFrames(kFramesPer20Ms)), 3);
  EXPECT_EQ(buffer->stats().concealed_ms, 0);
}

TEST(JitterBufferTest, PrebuffersUntilTargetThenPlaysInOrder) {
  auto buffer = Make(Fixed(60));
  ASSERT_TRUE(buffer->Push(Chunk(0, 100)).ok());
  ASSERT_TRUE(buffer->Push(Chunk(1, 200)).ok());
  EXPECT_FALSE(buffer->stats().is_ready);
  PlayoutFrame frame = buffer->Read(20);
  EXPECT_TRUE(frame.prebuffering);
  EXPECT_EQ(frame.data, std::string(640, '\0'));
  ASSERT_TRUE(buffer->Push(Chunk(2, 300)).ok());
  EXPECT_TRUE(buffer->stats().is_ready);
  EXPECT_EQ(LastValue(buffer->Read(20)), 100);
  EXPECT_EQ(LastValue(buffer->Read(20)), 200);
  frame = buffer->Read(20);
  EXPECT_EQ(LastValue(frame), 300);
  EXPECT_EQ(frame.media_ms, 40);
  EXPECT_EQ(frame.concealed_ms, 0);
}

TEST(JitterBufferTest, ReadsAreExactWholeFrames) {
  auto buffer = Make(Fixed(20));
  ASSERT_TRUE(buffer->Push(Chunk(0, 1)).ok());
  // 7.3 ms at 16 kHz is 116.8 frames: 116 whole frames, 232 bytes.
  EXPECT_EQ(buffer->Read(7.3).data.size(), 232u);
  EXPECT_EQ(buffer->ReadFrames(5).data.size(), 10u);
  // Past the end, still exactly the requested size.
  EXPECT_EQ(buffer->Read(100).data.size(), 3200u);
  const JitterBufferStats stats = buffer->stats();
  EXPECT_EQ(stats.total_received, 640);
  EXPECT_EQ(stats.total_read, 232 + 10 + 3200);
}

TEST(JitterBufferTest, ReordersAndCountsDuplicatesAndLateChunks) {
  auto buffer = Make(Fixed(60));
  ASSERT_TRUE(buffer->Push(Chunk(0, 100)).ok());
  ASSERT_TRUE(buffer->Push(Chunk(2, 300)).ok());
  ASSERT_TRUE(buffer->Push(Chunk(1, 200)).ok());
  ASSERT_TRUE(buffer->Push(Chunk(1, 200)).ok());
  std::vector<int> order;
  for (int i = 0; i < 3; ++i) order.push_back(LastValue(buffer->Read(20)));
  EXPECT_THAT(order, ElementsAre(100, 200, 300));
  ASSERT_TRUE(buffer->Push(Chunk(1, 200)).ok());  // Already played.
  const JitterBufferStats stats = buffer->stats();
  EXPECT_EQ(stats.reordered, 1);
  EXPECT_EQ(stats.duplicate, 1);
  EXPECT_EQ(stats.late, 1);
  EXPECT_EQ(stats.total_received, 3 * 640);
}

TEST(JitterBufferTest, MismatchedChunksAreErrorsNotGarbage) {
  auto buffer = Make(Fixed(20));
  v1::AudioChunk chunk = Chunk(0, 1);
  chunk.set_sample_rate(8000);
  EXPECT_EQ(buffer->Push(chunk).code(), absl::StatusCode::kInvalidArgument);
  chunk = Chunk(0, 1);
  chunk.set_format(v1::FLOAT32);
  EXPECT_EQ(buffer->Push(chunk).code(), absl::StatusCode::kInvalidArgument);
  chunk = Chunk(0, 1);
  chunk.mutable_data()->push_back('x');
  EXPECT_EQ(buffer->Push(chunk).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(buffer->stats().total_received, 0);
}

TEST(JitterBufferTest, UnderrunIsConcealedAndReported) {
  EventLog log;
  JitterBufferOptions options = Fixed(20);
  options.emitter = log.Emitter();
  auto buffer = Make(options);
  ASSERT_TRUE(buffer->Push(Chunk(0, 1000)).ok());
  EXPECT_EQ(buffer->Read(20).concealed_ms, 0);
  PlayoutFrame frame = buffer->Read(20);
  EXPECT_EQ(frame.data.size(), 640u);
  EXPECT_DOUBLE_EQ(frame.concealed_ms, 20);
  EXPECT_EQ(frame.media_ms, -1);
  EXPECT_TRUE(buffer->stats().underrun_active);
  buffer->Read(20);  // Still in the same underrun: one event only.
  ASSERT_TRUE(buffer->Push(Chunk(1, 2000)).ok());
  frame = buffer->Read(20);
  EXPECT_EQ(LastValue(frame), 2000) << "late audio still plays (delayed, not lost)";
  EXPECT_FALSE(buffer->stats().underrun_active);
  ASSERT_THAT(log.Names(), ElementsAre("stream.buffer_underrun", "stream.buffer_recovered"));
  EXPECT_EQ(log.events[0].second, (EventAttributes{{"bytes_requested", "640"},
                                                   {"bytes_available", "0"},
                                                   {"buffer_duration_ms", "0.0"}}));
  // At the read, as Stageflow reports it: the 20 ms the read found, not the 0 it left.
  EXPECT_EQ(log.events[1].second, (EventAttributes{{"buffer_duration_ms", "20.0"}}));
  const JitterBufferStats stats = buffer->stats();
  EXPECT_DOUBLE_EQ(stats.concealed_ms, 40);
  EXPECT_EQ(stats.concealment_events, 1);
  EXPECT_EQ(stats.interruptions, 0);
  EXPECT_EQ(stats.late, 0);
}

TEST(JitterBufferTest, LongConcealmentIsAnInterruption) {
  auto buffer = Make(Fixed(20));
  ASSERT_TRUE(buffer->Push(Chunk(0, 1000)).ok());
  buffer->Read(20);
  for (int i = 0; i < 7; ++i) buffer->Read(20);  // 140 ms: not yet.
  EXPECT_EQ(buffer->stats().interruptions, 0);
  buffer->Read(20);  // 160 ms.
  EXPECT_EQ(buffer->stats().interruptions, 1);
  buffer->Read(20);
  EXPECT_EQ(buffer->stats().interruptions, 1) << "counted once per concealment";
  EXPECT_EQ(buffer->stats().concealment_events, 1);
}

TEST(JitterBufferTest, ConcealmentFadesWithoutClicks) {
  auto buffer = Make(Fixed(40));
  for (uint64_t seq = 0; seq < 2; ++seq) ASSERT_TRUE(buffer->Push(SineChunk(seq)).ok());
  std::vector<float> out;
  for (int i = 0; i < 4; ++i) {  // 40 ms of sine, 40 ms of concealment.
    const auto samples = Samples(buffer->Read(20).data);
    out.insert(out.end(), samples.begin(), samples.end());
  }
  for (uint64_t seq = 2; seq < 4; ++seq) ASSERT_TRUE(buffer->Push(SineChunk(seq)).ok());
  for (int i = 0; i < 2; ++i) {  // Audio resumes.
    const auto samples = Samples(buffer->Read(20).data);
    out.insert(out.end(), samples.begin(), samples.end());
  }
  // A 440 Hz sine at 0.5 moves at most 2*pi*440/16000*0.5 = 0.086 per sample; a click is a jump
  // far beyond that.
  float max_step = 0;
  for (size_t i = 1; i < out.size(); ++i)
    max_step = std::max(max_step, std::fabs(out[i] - out[i - 1]));
  EXPECT_LT(max_step, 0.1f);
  // After the 5 ms fade the concealment is silent.
  for (size_t i = 640 + 100; i < 1280; ++i) ASSERT_EQ(out[i], 0.0f) << i;
  // And the resumed audio reaches full level again.
  float peak = 0;
  for (size_t i = out.size() - 320; i < out.size(); ++i) peak = std::max(peak, std::fabs(out[i]));
  EXPECT_GT(peak, 0.45f);
}

TEST(JitterBufferTest, GapIsConcealedThenGivenUp) {
  auto buffer = Make(Fixed(60));
  for (uint64_t seq : {0, 1, 3, 4}) ASSERT_TRUE(buffer->Push(Chunk(seq, 100 * (seq + 1))).ok());
  EXPECT_EQ(LastValue(buffer->Read(20)), 100);
  EXPECT_EQ(LastValue(buffer->Read(20)), 200);
  PlayoutFrame gap = buffer->Read(20);
  EXPECT_DOUBLE_EQ(gap.concealed_ms, 20);
  EXPECT_EQ(LastValue(buffer->Read(20)), 400);
  ASSERT_TRUE(buffer->Push(Chunk(2, 300)).ok());
  EXPECT_EQ(LastValue(buffer->Read(20)), 500);
  const JitterBufferStats stats = buffer->stats();
  EXPECT_EQ(stats.lost, 1);
  EXPECT_EQ(stats.late, 1);
  EXPECT_FALSE(stats.underrun_active) << "a gap is not an underrun";
}

TEST(JitterBufferTest, OverflowDropsOldestIn50MsSteps) {
  EventLog log;
  JitterBufferOptions options = JitterBufferOptions::VoiceChat();
  options.max_compression = 0;
  options.emitter = log.Emitter();
  auto buffer = Make(options);
  for (uint64_t seq = 0; seq < 26; ++seq) ASSERT_TRUE(buffer->Push(Chunk(seq, seq + 1)).ok());
  // 520 ms pushed into a 500 ms buffer: one 50 ms step dropped (the first 2.5 chunks).
  JitterBufferStats stats = buffer->stats();
  EXPECT_DOUBLE_EQ(stats.duration_ms, 470);
  EXPECT_EQ(stats.total_dropped, 1600);
  ASSERT_THAT(log.Names(), ElementsAre("stream.buffer_overflow"));
  // Stageflow's order (drop, emit, add): 450 ms after the drop, before the new 20 ms chunk.
  EXPECT_EQ(log.events[0].second, (EventAttributes{{"bytes_dropped", "1600"},
                                                   {"buffer_duration_ms", "450.0"},
                                                   {"max_duration_ms", "500"}}));
  // Playout resumes with the newest audio: the second half of chunk 2.
  EXPECT_EQ(LastValue(buffer->Read(10)), 3);
  EXPECT_EQ(LastValue(buffer->Read(20)), 4);
}

TEST(JitterBufferTest, FlushEmptiesAtOnceAndStragglersAreLate) {
  auto buffer = Make(Fixed(40));
  for (uint64_t seq = 0; seq < 5; ++seq) ASSERT_TRUE(buffer->Push(Chunk(seq, 7)).ok());
  buffer->Read(20);
  buffer->Flush();
  JitterBufferStats stats = buffer->stats();
  EXPECT_EQ(stats.bytes_buffered, 0u);
  EXPECT_EQ(stats.total_flushed, 4 * 640);
  ASSERT_TRUE(buffer->Push(Chunk(3, 7)).ok());
  EXPECT_EQ(buffer->stats().late, 1);
  // The next reply prebuffers afresh.
  ASSERT_TRUE(buffer->Push(Chunk(5, 9)).ok());
  EXPECT_TRUE(buffer->Read(20).prebuffering);
  ASSERT_TRUE(buffer->Push(Chunk(6, 9)).ok());
  EXPECT_EQ(LastValue(buffer->Read(20)), 9);
}

TEST(JitterBufferTest, AdaptiveTargetFollowsThe95thPercentileOfJitter) {
  JitterBufferOptions options = Fixed(100);
  options.adaptive = true;
  options.min_delay_ms = 20;
  options.max_delay_ms = 500;

  auto steady = Make(options);
  auto jittery = Make(options);
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> extra(0, 100);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  double last_arrival = 0;
  for (uint64_t seq = 0; seq < 200; ++seq) {
    const double send = seq * 20.0;
    ASSERT_TRUE(steady->Push(Chunk(seq, 1), t0 + absl::Milliseconds(send + 30)).ok());
    // Ordered delivery (as over one gRPC stream): never before the previous chunk.
    last_arrival = std::max(last_arrival, send + 30 + extra(rng));
    ASSERT_TRUE(jittery->Push(Chunk(seq, 1), t0 + absl::Milliseconds(last_arrival)).ok());
  }
  EXPECT_DOUBLE_EQ(steady->stats().target_delay_ms, 20) << "no jitter: one chunk";
  const double target = jittery->stats().target_delay_ms;
  EXPECT_GT(target, 80);
  EXPECT_LT(target, 130);
}

TEST(JitterBufferTest, CompressionBringsTheDelayBackToTarget) {
  JitterBufferOptions options = Fixed(60);
  options.max_compression = 0.25;
  auto buffer = Make(options);
  for (uint64_t seq = 0; seq < 30; ++seq)
    ASSERT_TRUE(buffer->Push(SineChunk(seq)).ok());  // 600 ms.
  // At most 25 % of each 20 ms read (5 ms) is dropped: 21 reads bring 600 ms down to target
  // plus the 20 ms threshold.
  double concealed = 0;
  for (int i = 0; i < 21; ++i) concealed += buffer->Read(20).concealed_ms;
  const JitterBufferStats stats = buffer->stats();
  EXPECT_EQ(concealed, 0);
  EXPECT_LE(stats.duration_ms, 60 + 20);
  EXPECT_GE(stats.duration_ms, 60);
  EXPECT_DOUBLE_EQ(stats.compressed_ms, 105);
  EXPECT_DOUBLE_EQ(stats.current_delay_ms, stats.duration_ms);
  EXPECT_DOUBLE_EQ(stats.target_delay_ms, 60);
  EXPECT_DOUBLE_EQ(stats.compressed_ms + 21 * 20 + stats.duration_ms, 600);
}

TEST(JitterBufferTest, LosslessByDefaultAndCompressionIsReportedWhenAskedFor) {
  // Default: a 600 ms burst into a 60 ms target plays out whole (it was time-compressed by 25 %,
  // silently: 5 ms of every 20 ms read discarded, total_dropped 0, no event).
  EventLog quiet_log;
  JitterBufferOptions lossless;
  lossless.target_duration_ms = 60;
  lossless.emitter = quiet_log.Emitter();
  EXPECT_EQ(lossless.max_compression, 0);
  auto buffer = Make(lossless);
  for (uint64_t seq = 0; seq < 30; ++seq) ASSERT_TRUE(buffer->Push(SineChunk(seq)).ok());
  for (int i = 0; i < 30; ++i) buffer->Read(20);
  EXPECT_DOUBLE_EQ(buffer->stats().compressed_ms, 0);
  EXPECT_EQ(buffer->stats().total_read, buffer->stats().total_received);
  EXPECT_THAT(quiet_log.Names(), ::testing::Not(::testing::Contains("stream.buffer_compressed")));

  // Asked for: the episode is reported when the delay is back at the target.
  EventLog log;
  JitterBufferOptions options = Fixed(60);
  options.max_compression = 0.25;
  options.emitter = log.Emitter();
  buffer = Make(options);
  for (uint64_t seq = 0; seq < 30; ++seq) ASSERT_TRUE(buffer->Push(SineChunk(seq)).ok());
  for (int i = 0; i < 25; ++i) buffer->Read(20);
  const auto events = log.events;
  auto compressed = std::find_if(events.begin(), events.end(), [](const auto& e) {
    return e.first == "stream.buffer_compressed";
  });
  ASSERT_NE(compressed, events.end());
  EXPECT_EQ(compressed->second.at("compressed_ms"),
            absl::StrFormat("%.1f", buffer->stats().compressed_ms));
  EXPECT_EQ(compressed->second.at("target_ms"), "60.0");
}

TEST(JitterBufferTest, AReadBeforeReadyThatFindsTooLittleIsAnUnderrun) {
  // Stageflow: a playout read before the buffer is ready that finds less than it asks for is an
  // underrun (then recovered once a read finds enough); the frame is the full duration anyway.
  EventLog log;
  JitterBufferOptions options = Fixed(100);
  options.emitter = log.Emitter();
  auto buffer = Make(options);
  ASSERT_TRUE(buffer->Push(Chunk(0, 1000)).ok());  // 20 ms of a 100 ms target.
  PlayoutFrame frame = buffer->Read(40);
  EXPECT_TRUE(frame.prebuffering);
  EXPECT_EQ(frame.data.size(), 1280u) << "exactly the requested duration";
  EXPECT_TRUE(buffer->stats().underrun_active);
  buffer->Read(40);  // The same underrun: one event.
  ASSERT_THAT(log.Names(), ElementsAre("stream.buffer_underrun"));
  EXPECT_EQ(log.events[0].second, (EventAttributes{{"bytes_requested", "1280"},
                                                   {"bytes_available", "640"},
                                                   {"buffer_duration_ms", "20.0"}}));
  ASSERT_TRUE(buffer->Push(Chunk(1, 1000)).ok());
  ASSERT_TRUE(buffer->Push(Chunk(2, 1000)).ok());  // 60 ms: enough for a 40 ms read.
  EXPECT_TRUE(buffer->Read(40).prebuffering);
  EXPECT_FALSE(buffer->stats().underrun_active);
  ASSERT_THAT(log.Names(), ElementsAre("stream.buffer_underrun", "stream.buffer_recovered"));
  EXPECT_EQ(log.events[1].second, (EventAttributes{{"buffer_duration_ms", "60.0"}}));
}

TEST(JitterBufferTest, HonoursOtherFormats) {
  JitterBufferOptions options = Fixed(20);
  options.format = v1::FLOAT32;
  options.channels = 2;
  options.sample_rate = 48000;
  auto buffer = Make(options);
  v1::AudioChunk chunk;
  chunk.set_format(v1::FLOAT32);
  chunk.set_sample_rate(48000);
  chunk.set_channels(2);
  chunk.set_data(std::string(960 * 8, '\0'));  // 20 ms of stereo float.
  ASSERT_TRUE(buffer->Push(chunk).ok());
  EXPECT_EQ(buffer->Read(10).data.size(), 480u * 8);
  EXPECT_DOUBLE_EQ(buffer->stats().duration_ms, 10);
}

TEST(JitterBufferTest, EmitterMayCallBackIntoTheBuffer) {
  JitterBuffer* self = nullptr;
  int calls = 0;
  JitterBufferOptions options = Fixed(20, 40);
  options.emitter = [&](absl::string_view, const EventAttributes&) {
    self->stats();
    ++calls;
  };
  auto buffer = Make(options);
  self = buffer.get();
  for (uint64_t seq = 0; seq < 4; ++seq) ASSERT_TRUE(buffer->Push(Chunk(seq, 1)).ok());
  EXPECT_GT(calls, 0);
}

TEST(JitterBufferTest, ConcurrentProducerAndPlayout) {
  auto buffer = Make(Fixed(40));
  constexpr int kChunks = 500;
  std::thread producer([&] {
    for (uint64_t seq = 0; seq < kChunks; ++seq) ASSERT_TRUE(buffer->Push(Chunk(seq, 5)).ok());
  });
  size_t bytes = 0;
  for (int i = 0; i < kChunks; ++i) bytes += buffer->Read(20).data.size();
  producer.join();
  EXPECT_EQ(bytes, kChunks * 640u);
  const JitterBufferStats stats = buffer->stats();
  EXPECT_EQ(stats.total_received, kChunks * 640);
  EXPECT_EQ(stats.late + stats.duplicate, 0);
}

}  // namespace
}  // namespace voxflow::streaming

namespace voxflow::streaming {
namespace {

// A client that jumps its sequence numbers by 2^63 must cost O(1), not a concealed chunk per
// missing number (it once held the session lock forever).
TEST(JitterBufferGapTest, AnAbsurdSequenceJumpIsANewStreamPosition) {
  auto buffer = Make(Fixed(40));
  const uint64_t jump = uint64_t{1} << 63;
  for (uint64_t seq : {uint64_t{1}, uint64_t{2}, jump, jump + 1}) {
    ASSERT_TRUE(buffer->Push(Chunk(seq, 100), absl::Now()).ok());
  }
  buffer->StartPlayout();
  size_t bytes = 0;
  for (int reads = 0; buffer->stats().bytes_buffered > 0; ++reads) {
    ASSERT_LT(reads, 100) << "the gap is being concealed chunk by chunk";
    bytes += buffer->ReadFrames(kFramesPer20Ms).data.size();
  }
  EXPECT_EQ(bytes, 4 * kFramesPer20Ms * 2);  // All four chunks, no concealment between them.
  EXPECT_GE(buffer->stats().lost, 1);
}

TEST(JitterBufferGapTest, AGapTheBufferCouldHoldIsStillConcealed) {
  auto buffer = Make(Fixed(40, 2000));
  for (uint64_t seq : {uint64_t{1}, uint64_t{2}, uint64_t{5}}) {
    ASSERT_TRUE(buffer->Push(Chunk(seq, 100), absl::Now()).ok());
  }
  buffer->StartPlayout();
  size_t bytes = 0;
  while (buffer->stats().bytes_buffered > 0)
    bytes += buffer->ReadFrames(kFramesPer20Ms).data.size();
  EXPECT_EQ(bytes, 5 * kFramesPer20Ms * 2);  // Chunks 3 and 4 concealed.
  EXPECT_EQ(buffer->stats().lost, 2);
}

}  // namespace
}  // namespace voxflow::streaming
