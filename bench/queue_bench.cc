// queue_bench: ChunkQueue put/get throughput with 1 and 4 producers against a plain
// mutex + condition_variable + deque bounded queue (the baseline) in the same run, and the
// JitterBuffer's cost per 20 ms chunk (push + playout read).
//
//   bazel run -c opt //bench:queue_bench
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "services/common/streaming/chunk_queue.h"
#include "services/common/streaming/jitter_buffer.h"

namespace {

constexpr size_t kCapacity = 100;
constexpr int kItemsPerRun = 20000;
const std::string kChunk(640, '\x01');  // 20 ms of 16 kHz PCM16.

// The baseline: the least a bounded blocking queue can be.
class MutexDequeQueue {
 public:
  void Put(std::string item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return items_.size() < kCapacity; });
    items_.push_back(std::move(item));
    not_empty_.notify_one();
  }
  std::optional<std::string> Get() {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    std::string item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<std::string> items_;
  bool closed_ = false;
};

struct ChunkQueueAdapter {
  voxflow::streaming::ChunkQueue<std::string> queue{{.max_size = kCapacity}};
  void Put(std::string item) { queue.Put(std::move(item)); }
  std::optional<std::string> Get() { return queue.Get(); }
  void Close() { queue.Close(); }
};

// `producers` threads put kItemsPerRun chunks in all; one consumer takes them.
template <typename Queue>
void Transfer(benchmark::State& state) {
  const int producers = static_cast<int>(state.range(0));
  for (auto _ : state) {
    Queue queue;
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&] {
        for (int i = 0; i < kItemsPerRun / producers; ++i) queue.Put(kChunk);
      });
    }
    int64_t received = 0;
    std::thread consumer([&] {
      while (auto item = queue.Get()) {
        benchmark::DoNotOptimize(item->data());
        ++received;
      }
    });
    for (auto& thread : threads) thread.join();
    queue.Close();
    consumer.join();
    if (received != (kItemsPerRun / producers) * producers) state.SkipWithError("lost items");
  }
  state.SetItemsProcessed(state.iterations() * kItemsPerRun);
}

void BM_Baseline_MutexDeque(benchmark::State& state) { Transfer<MutexDequeQueue>(state); }
void BM_ChunkQueue(benchmark::State& state) { Transfer<ChunkQueueAdapter>(state); }
BENCHMARK(BM_Baseline_MutexDeque)->Arg(1)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ChunkQueue)->Arg(1)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond);

voxflow::v1::AudioChunk Chunk(uint64_t seq) {
  voxflow::v1::AudioChunk chunk;
  chunk.set_format(voxflow::v1::PCM16);
  chunk.set_sample_rate(16000);
  chunk.set_channels(1);
  chunk.set_sequence(seq);
  chunk.set_timestamp_ms(static_cast<int64_t>(seq * 20));
  chunk.set_data(kChunk);
  return chunk;
}

// One 20 ms chunk in, one 20 ms playout read out: the steady-state cost per chunk.
void BM_JitterBufferPerChunk(benchmark::State& state) {
  voxflow::streaming::JitterBufferOptions options =
      voxflow::streaming::JitterBufferOptions::VoiceChat();
  options.adaptive = state.range(0) != 0;
  options.max_compression = 0.25;  // As measured in docs/BENCHMARKS.md (the default is now 0).
  auto buffer = *voxflow::streaming::JitterBuffer::Create(options);
  const absl::Time epoch = absl::FromUnixSeconds(1'000'000);
  uint64_t seq = 0;
  // Prefill to the target so every read plays real audio.
  for (; seq < 5; ++seq) (void)buffer->Push(Chunk(seq), epoch + absl::Milliseconds(seq * 20));
  for (auto _ : state) {
    (void)buffer->Push(Chunk(seq), epoch + absl::Milliseconds(seq * 20));
    ++seq;
    benchmark::DoNotOptimize(buffer->Read(20));
  }
  if (buffer->stats().concealed_ms > 0) state.SkipWithError("concealed in steady state");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JitterBufferPerChunk)->ArgName("adaptive")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
