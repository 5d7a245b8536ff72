// jitter_bench: our JitterBuffer (fixed and adaptive) against speexdsp's jitter buffer on the same
// seeded, simulated-clock traces of 20 ms chunks. Prints one Markdown table.
//
// Each trace is 60 s. Chunk k is captured at k*20 ms on the sender's clock (scaled for clock
// drift) and arrives after a network delay; delivery is in order, as on one gRPC stream (a chunk
// never overtakes the one before it). Every contender sees the same arrivals and is read every
// 20 ms on the receiver's clock. Playout delay = read time - capture time of the audio played.
//
//   bazel run -c opt //bench:jitter_bench
#include <speex/speex_jitter.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/common/streaming/jitter_buffer.h"

namespace {

constexpr double kChunkMs = 20;
constexpr int kChunks = 3000;  // 60 s.
constexpr double kTraceMs = kChunks * kChunkMs;

struct Trace {
  std::string name;
  double drift_ppm = 0;
  std::vector<double> arrival_ms;  // Per chunk, receiver clock.
  double step_ms = -1;             // When the jitter changes (step trace only).
};

double CaptureMs(const Trace& trace, double media_ms) {
  return media_ms * (1 + trace.drift_ppm * 1e-6);
}

// Network delay per chunk -> in-order arrival times.
Trace MakeTrace(std::string name, double drift_ppm, uint32_t seed,
                const std::function<double(int, double, std::mt19937&)>& delay) {
  Trace trace{std::move(name), drift_ppm, {}, -1};
  std::mt19937 rng(seed);
  double last = 0;
  for (int k = 0; k < kChunks; ++k) {
    const double capture = CaptureMs(trace, k * kChunkMs);
    last = std::max(last, capture + delay(k, capture, rng));
    trace.arrival_ms.push_back(last);
  }
  return trace;
}

double Gaussian(std::mt19937& rng, double sigma) {
  return std::normal_distribution<double>(0, sigma)(rng);
}

std::vector<Trace> Traces() {
  std::vector<Trace> traces;
  traces.push_back(
      MakeTrace("constant delay", 0, 1, [](int, double, std::mt19937&) { return 40.0; }));
  for (double sigma : {5.0, 20.0, 40.0}) {
    traces.push_back(MakeTrace("i.i.d. jitter σ=" + std::to_string(static_cast<int>(sigma)) + " ms",
                               0, 2 + static_cast<uint32_t>(sigma),
                               [sigma](int, double, std::mt19937& rng) {
                                 return std::max(1.0, 40 + 2 * sigma + Gaussian(rng, sigma));
                               }));
  }
  {
    // Freezes of 100-300 ms every 2-5 s; what arrives during a freeze is delivered at its end.
    std::mt19937 rng(7);
    std::vector<std::pair<double, double>> freezes;
    for (double t = 2000; t < kTraceMs;) {
      const double length = std::uniform_real_distribution<double>(100, 300)(rng);
      freezes.emplace_back(t, t + length);
      t += length + std::uniform_real_distribution<double>(2000, 5000)(rng);
    }
    traces.push_back(
        MakeTrace("stall-then-burst", 0, 8, [freezes](int, double capture, std::mt19937& rng) {
          double arrival = capture + std::max(1.0, 50 + Gaussian(rng, 5));
          for (const auto& [start, end] : freezes) {
            if (arrival >= start && arrival < end) arrival = end;
          }
          return arrival - capture;
        }));
  }
  for (double ppm : {500.0, -500.0}) {
    traces.push_back(MakeTrace(std::string("clock drift ") + (ppm > 0 ? "+" : "") +
                                   std::to_string(static_cast<int>(ppm)) + " ppm",
                               ppm, 9, [](int, double, std::mt19937& rng) {
                                 return std::max(1.0, 50 + Gaussian(rng, 5));
                               }));
  }
  {
    Trace step =
        MakeTrace("jitter step σ 5→40 ms at 30 s", 0, 10, [](int k, double, std::mt19937& rng) {
          const double sigma = k < kChunks / 2 ? 5 : 40;
          return std::max(1.0, 50 + 2 * sigma + Gaussian(rng, sigma));
        });
    step.step_ms = kTraceMs / 2;
    traces.push_back(step);
  }
  return traces;
}

struct Result {
  double concealed_ms = 0;
  double played_ms = 0;
  int interruptions = 0;
  int64_t late = 0;
  std::vector<std::pair<double, double>> delays;  // (read time, playout delay)
};

// Concealment runs of >= 150 ms are interruptions, counted the same way for every contender.
class RunCounter {
 public:
  void Add(bool concealed, double ms, Result& result) {
    if (!concealed) {
      run_ms_ = 0;
      counted_ = false;
      return;
    }
    run_ms_ += ms;
    if (!counted_ && run_ms_ >= 150) {
      ++result.interruptions;
      counted_ = true;
    }
  }

 private:
  double run_ms_ = 0;
  bool counted_ = false;
};

Result RunOurs(const Trace& trace, bool adaptive, double headroom_ms = 10) {
  voxflow::streaming::JitterBufferOptions options =
      voxflow::streaming::JitterBufferOptions::VoiceChat();
  options.adaptive = adaptive;
  options.adaptive_headroom_ms = headroom_ms;
  options.max_compression = 0.25;  // As measured in docs/BENCHMARKS.md (the default is now 0).
  auto buffer = *voxflow::streaming::JitterBuffer::Create(options);
  Result result;
  RunCounter runs;
  const absl::Time epoch = absl::FromUnixSeconds(1'000'000);
  size_t next = 0;
  for (double now = 0; now < kTraceMs + 2000; now += kChunkMs) {
    while (next < trace.arrival_ms.size() && trace.arrival_ms[next] <= now) {
      voxflow::v1::AudioChunk chunk;
      chunk.set_format(voxflow::v1::PCM16);
      chunk.set_sample_rate(16000);
      chunk.set_channels(1);
      chunk.set_sequence(next);
      chunk.set_timestamp_ms(static_cast<int64_t>(next * kChunkMs));
      chunk.set_data(std::string(640, '\0'));
      const absl::Status status =
          buffer->Push(std::move(chunk), epoch + absl::Microseconds(trace.arrival_ms[next] * 1000));
      if (!status.ok()) {
        std::fprintf(stderr, "push failed: %s\n", status.ToString().c_str());
        std::exit(1);
      }
      ++next;
    }
    const voxflow::streaming::PlayoutFrame frame = buffer->Read(kChunkMs);
    if (frame.prebuffering) continue;
    if (next >= trace.arrival_ms.size() && buffer->stats().bytes_buffered == 0 &&
        frame.media_ms < 0) {
      break;  // Stream over and drained.
    }
    result.played_ms += kChunkMs;
    result.concealed_ms += frame.concealed_ms;
    runs.Add(frame.concealed_ms > 0, frame.concealed_ms, result);
    if (frame.media_ms >= 0) {
      result.delays.emplace_back(now, now - CaptureMs(trace, frame.media_ms));
    }
  }
  result.late = buffer->stats().late + buffer->stats().lost;
  return result;
}

Result RunSpeex(const Trace& trace) {
  ::JitterBuffer* jitter = jitter_buffer_init(static_cast<int>(kChunkMs));
  Result result;
  RunCounter runs;
  size_t next = 0;
  int64_t returned = 0;
  bool started = false;
  char storage[64];
  for (double now = 0; now < kTraceMs + 2000; now += kChunkMs) {
    while (next < trace.arrival_ms.size() && trace.arrival_ms[next] <= now) {
      JitterBufferPacket packet;
      char payload[4] = {1, 2, 3, 4};
      packet.data = payload;
      packet.len = sizeof(payload);
      packet.timestamp = static_cast<spx_uint32_t>(next * kChunkMs);
      packet.span = static_cast<spx_uint32_t>(kChunkMs);
      packet.sequence = static_cast<spx_uint16_t>(next);
      packet.user_data = 0;
      jitter_buffer_put(jitter, &packet);
      ++next;
    }
    JitterBufferPacket out;
    out.data = storage;
    out.len = sizeof(storage);
    spx_int32_t offset = 0;
    const int status = jitter_buffer_get(jitter, &out, static_cast<spx_int32_t>(kChunkMs), &offset);
    jitter_buffer_tick(jitter);
    if (status == JITTER_BUFFER_OK) {
      started = true;
      ++returned;
      result.played_ms += kChunkMs;
      runs.Add(false, 0, result);
      result.delays.emplace_back(now, now - CaptureMs(trace, out.timestamp));
    } else if (started) {
      spx_int32_t available = 0;
      jitter_buffer_ctl(jitter, JITTER_BUFFER_GET_AVAILABLE_COUNT, &available);
      if (next >= trace.arrival_ms.size() && available == 0) {
        break;  // Stream over and drained.
      }
      result.played_ms += kChunkMs;
      result.concealed_ms += kChunkMs;
      runs.Add(true, kChunkMs, result);
    }
  }
  jitter_buffer_destroy(jitter);
  result.late = static_cast<int64_t>(trace.arrival_ms.size()) - returned;
  return result;
}

double Mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / v.size();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

// Time after the step until the 1 s rolling mean delay stays within ±15 % (at least ±5 ms) of
// its mean over the last 10 s.
double ConvergenceMs(const Result& result, double step_ms) {
  std::vector<double> final_window;
  for (const auto& [t, d] : result.delays) {
    if (t >= kTraceMs - 10000 && t < kTraceMs) final_window.push_back(d);
  }
  const double target = Mean(final_window);
  const double band = std::max(5.0, 0.15 * target);
  double last_outside = step_ms;
  std::vector<std::pair<double, double>> window;
  size_t begin = 0;
  double sum = 0;
  for (size_t i = 0; i < result.delays.size(); ++i) {
    const auto [t, d] = result.delays[i];
    sum += d;
    while (result.delays[begin].first < t - 1000) sum -= result.delays[begin++].second;
    const double rolling = sum / (i - begin + 1);
    if (t >= step_ms && t < kTraceMs && std::fabs(rolling - target) > band) last_outside = t;
  }
  return last_outside - step_ms;
}

void PrintRow(const std::string& trace, const std::string& contender, const Result& r,
              double step_ms) {
  std::vector<double> delays;
  for (const auto& entry : r.delays) delays.push_back(entry.second);
  std::printf(
      "| %s | %s | %.2f %% | %d | %lld | %.1f | %.1f | %s |\n", trace.c_str(), contender.c_str(),
      r.played_ms > 0 ? 100 * r.concealed_ms / r.played_ms : 0.0, r.interruptions,
      static_cast<long long>(r.late), Mean(delays), Percentile(delays, 0.95),
      step_ms < 0 ? "–"
                  : (std::to_string(static_cast<int>(ConvergenceMs(r, step_ms))) + " ms").c_str());
}

}  // namespace

int main() {
  std::printf(
      "| trace | buffer | concealed | interruptions | late/lost chunks | mean delay ms | "
      "p95 delay ms | converge after step |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const Trace& trace : Traces()) {
    PrintRow(trace.name, "speexdsp", RunSpeex(trace), trace.step_ms);
    PrintRow(trace.name, "voxflow fixed 100 ms", RunOurs(trace, false), trace.step_ms);
    PrintRow(trace.name, "voxflow adaptive (default)", RunOurs(trace, true), trace.step_ms);
    PrintRow(trace.name, "voxflow adaptive, headroom 0", RunOurs(trace, true, 0), trace.step_ms);
  }
  return 0;
}
