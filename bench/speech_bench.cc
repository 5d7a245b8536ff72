// speech_bench: the speech services' capacity and the real engines' speed.
//
// 1. Real-time factor (processing time / audio time) of espeak-ng and pocketsphinx on the same
//    English paragraph, in-process.
// 3. Concurrent StreamingSynthesize streams with a zero-latency mock engine: time to first audio,
//    and whether each stream's audio arrived faster than it plays.
// 2. Concurrent StreamingRecognize streams at real time: N clients each stream 2 s of 20 ms chunks
//    paced at real time to an in-process STT server with a zero-latency mock engine, then wait for
//    the final result. The same traffic goes to a bare SpeechToText server in the same run (reads
//    everything, answers once: no session, worker pool or conversion) — the floor gRPC sets.
//    Reported: streams completed, p99 lateness of the paced sends, p50/p99 time from end of input
//    to the final result.
//
//   bazel run -c opt //bench:speech_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server_builder.h"
#include "mocks/mock_stt_engine.h"
#include "mocks/mock_tts_engine.h"
#include "services/common/worker_pool.h"
#include "services/stt/pocketsphinx_engine.h"
#include "services/stt/stt_service.h"
#include "services/stt/stt_session.h"
#include "services/tts/espeak_engine.h"
#include "services/tts/tts_service.h"
#include "services/tts/tts_session.h"
#include "spdlog/spdlog.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace voxflow;

constexpr char kParagraph[] =
    "The weather is nice today. We could walk to the park after lunch. "
    "Please call me tomorrow morning if the train is late. "
    "Hello world, this is a test of the speech services.";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

v1::AudioStreamFormat Pcm16k() {
  v1::AudioStreamFormat f;
  f.set_format(v1::PCM16);
  f.set_sample_rate(16000);
  f.set_channels(1);
  return f;
}

void RealTimeFactors() {
  auto espeak = *tts::EspeakEngine::Create();
  v1::SynthesisConfig config;
  config.set_language("en-US");
  *config.mutable_output_format() = Pcm16k();
  std::string audio;
  const auto tts_start = Clock::now();
  auto session = *tts::TtsSession::Create(
      espeak.get(), config, [&](v1::SynthesizeResponse r) { audio += r.audio().data(); });
  v1::TextPiece piece;
  piece.set_text(kParagraph);
  (void)session->PushText(piece);
  (void)session->Finish();
  const double tts_seconds = Seconds(Clock::now() - tts_start);
  const double audio_seconds = audio.size() / 2 / 16000.0;

  auto pocketsphinx = *stt::PocketsphinxEngine::Create();
  v1::RecognitionConfig stt_config;
  stt_config.set_language("en-US");
  *stt_config.mutable_audio_format() = Pcm16k();
  std::string heard;
  auto stt_session =
      *stt::SttSession::Create(pocketsphinx.get(), stt_config, [&](v1::RecognizeResponse r) {
        if (r.has_transcript() && r.transcript().is_final()) heard += r.transcript().text() + " | ";
      });
  const auto stt_start = Clock::now();
  v1::AudioChunk chunk;
  chunk.set_format(v1::PCM16);
  chunk.set_sample_rate(16000);
  chunk.set_channels(1);
  for (size_t at = 0; at < audio.size(); at += 640) {
    chunk.set_data(audio.substr(at, 640));
    (void)stt_session->PushAudio(chunk);
  }
  (void)stt_session->FinishAndWait();
  const double stt_seconds = Seconds(Clock::now() - stt_start);
  std::printf("## Real-time factor (processing time / audio time, one stream, one core)\n\n");
  std::printf(
      "| engine | audio s | processing s | real-time factor | streams per core at real time |\n");
  std::printf("|---|---|---|---|---|\n");
  std::printf("| espeak-ng (render + resample to 16 kHz) | %.2f | %.3f | %.3f | %.0f |\n",
              audio_seconds, tts_seconds, tts_seconds / audio_seconds, audio_seconds / tts_seconds);
  std::printf("| pocketsphinx (en-us, 16 kHz) | %.2f | %.3f | %.3f | %.1f |\n\n", audio_seconds,
              stt_seconds, stt_seconds / audio_seconds, audio_seconds / stt_seconds);
  std::printf("pocketsphinx heard: %s\n\n", heard.c_str());
}

// The baseline: reads a whole stream, answers once, nothing else.
class BareStt final : public v1::SpeechToText::CallbackService {
  class Reactor final
      : public grpc::ServerBidiReactor<v1::RecognizeRequest, v1::RecognizeResponse> {
   public:
    Reactor() { StartRead(&request_); }
    void OnReadDone(bool ok) override {
      if (ok) {
        StartRead(&request_);
        return;
      }
      response_.mutable_transcript()->set_is_final(true);
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    }
    void OnDone() override { delete this; }

   private:
    v1::RecognizeRequest request_;
    v1::RecognizeResponse response_;
  };

 public:
  grpc::ServerBidiReactor<v1::RecognizeRequest, v1::RecognizeResponse>* StreamingRecognize(
      grpc::CallbackServerContext*) override {
    return new Reactor();
  }
};

struct LoadResult {
  int completed = 0;
  double send_late_p99_ms = 0;
  double final_p50_ms = 0, final_p99_ms = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

LoadResult Load(const std::string& address, int streams) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  std::vector<double> lateness, finals;
  std::mutex mu;
  int completed = 0;
  std::vector<std::thread> clients;
  for (int i = 0; i < streams; ++i) {
    clients.emplace_back([&] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      auto stream = v1::SpeechToText::NewStub(channel)->StreamingRecognize(&context);
      v1::RecognizeRequest config;
      config.mutable_config()->set_language("en-US");
      *config.mutable_config()->mutable_audio_format() = Pcm16k();
      stream->Write(config);
      v1::RecognizeRequest audio;
      v1::AudioChunk* chunk = audio.mutable_audio();
      chunk->set_format(v1::PCM16);
      chunk->set_sample_rate(16000);
      chunk->set_channels(1);
      chunk->set_data(std::string(640, 1));
      std::vector<double> late;
      const auto start = Clock::now();
      for (int k = 0; k < 100; ++k) {  // 2 s of audio at real time.
        const auto due = start + std::chrono::milliseconds(20 * k);
        std::this_thread::sleep_until(due);
        stream->Write(audio);
        late.push_back(std::chrono::duration<double, std::milli>(Clock::now() - due).count());
      }
      stream->WritesDone();
      const auto ended = Clock::now();
      v1::RecognizeResponse response;
      double final_ms = -1;
      while (stream->Read(&response)) {
        if (response.has_transcript() && response.transcript().is_final()) {
          final_ms = std::chrono::duration<double, std::milli>(Clock::now() - ended).count();
        }
      }
      const bool ok = stream->Finish().ok() && final_ms >= 0;
      std::lock_guard<std::mutex> lock(mu);
      completed += ok;
      lateness.insert(lateness.end(), late.begin(), late.end());
      if (ok) finals.push_back(final_ms);
    });
  }
  for (auto& client : clients) client.join();
  return {completed, Percentile(lateness, 0.99), Percentile(finals, 0.5), Percentile(finals, 0.99)};
}

std::unique_ptr<grpc::Server> Serve(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

void Concurrency() {
  mocks::MockSttOptions options;
  options.latency_ms = 0;
  options.latency_jitter_ms = 0;
  mocks::MockSttEngine engine(options);
  WorkerPool pool(4);
  stt::SttServiceOptions service_options;
  service_options.max_streams = 100000;
  stt::SttService voxflow_stt(&engine, &pool, service_options);
  BareStt bare;
  int voxflow_port = 0, bare_port = 0;
  auto voxflow_server = Serve(&voxflow_stt, &voxflow_port);
  auto bare_server = Serve(&bare, &bare_port);
  std::printf(
      "## Concurrent real-time streams, STT service with the mock engine vs a bare gRPC "
      "server\n\n");
  std::printf(
      "Each stream: 2 s of 20 ms chunks paced at real time, then end of input. The load "
      "generator shares the 2 cores with the server.\n\n");
  std::printf(
      "| streams | server | completed | p99 send lateness ms | end of input → final p50 ms "
      "| p99 ms |\n|---|---|---|---|---|---|\n");
  for (int streams : {50, 100, 200, 400, 800}) {
    for (const auto& [name, port] : {std::pair<const char*, int>{"bare gRPC", bare_port},
                                     {"voxflow stt (mock)", voxflow_port}}) {
      const LoadResult r = Load("127.0.0.1:" + std::to_string(port), streams);
      std::printf("| %d | %s | %d | %.1f | %.1f | %.1f |\n", streams, name, r.completed,
                  r.send_late_p99_ms, r.final_p50_ms, r.final_p99_ms);
      std::fflush(stdout);
    }
  }
  voxflow_server->Shutdown();
  bare_server->Shutdown();
}

struct TtsLoadResult {
  int completed = 0;
  int faster_than_real_time = 0;  // Audio arrived faster than it plays.
  double first_audio_p50_ms = 0, first_audio_p99_ms = 0;
};

TtsLoadResult TtsLoad(const std::string& address, int streams) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  std::vector<double> first_audio;
  std::mutex mu;
  TtsLoadResult result;
  std::vector<std::thread> clients;
  for (int i = 0; i < streams; ++i) {
    clients.emplace_back([&] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      auto stream = v1::TextToSpeech::NewStub(channel)->StreamingSynthesize(&context);
      v1::SynthesizeRequest config;
      config.mutable_config()->set_language("en-US");
      *config.mutable_config()->mutable_output_format() = Pcm16k();
      config.mutable_config()->set_chunk_duration_ms(20);
      const auto start = Clock::now();
      stream->Write(config);
      for (const char* text : {"The weather is nice today. ", "We could walk to the park."}) {
        v1::SynthesizeRequest piece;
        piece.mutable_text()->set_text(text);
        stream->Write(piece);
      }
      stream->WritesDone();
      v1::SynthesizeResponse response;
      double first_ms = -1;
      size_t bytes = 0;
      while (stream->Read(&response)) {
        if (first_ms < 0 && !response.audio().data().empty()) {
          first_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        }
        bytes += response.audio().data().size();
      }
      const double wall_s = Seconds(Clock::now() - start);
      const bool ok = stream->Finish().ok() && bytes > 0;
      std::lock_guard<std::mutex> lock(mu);
      result.completed += ok;
      result.faster_than_real_time += ok && bytes / 2 / 16000.0 >= wall_s;
      if (first_ms >= 0) first_audio.push_back(first_ms);
    });
  }
  for (auto& client : clients) client.join();
  result.first_audio_p50_ms = Percentile(first_audio, 0.5);
  result.first_audio_p99_ms = Percentile(first_audio, 0.99);
  return result;
}

void TtsConcurrency() {
  mocks::MockTtsOptions options;
  options.latency_ms = 0;
  options.bytes_per_char = 2000;  // ~15 characters per second of speech, like a real voice.
  mocks::MockTtsEngine engine(options);
  WorkerPool pool(4);
  tts::TtsServiceOptions service_options;
  service_options.max_streams = 100000;
  tts::TtsService service(&engine, &pool, service_options);
  int port = 0;
  auto server = Serve(&service, &port);
  std::printf("\n## Concurrent streams, TTS service with the mock engine\n\n");
  std::printf(
      "Each stream: config, two sentences (52 characters: 3.25 s of 16 kHz audio at 2000 bytes "
      "per character, a real voice's pace), end of input; 20 ms chunks back.\n\n");
  std::printf(
      "| streams | completed | audio faster than real time | first audio p50 ms | p99 ms "
      "|\n|---|---|---|---|---|\n");
  for (int streams : {50, 100, 200, 400, 800}) {
    const TtsLoadResult r = TtsLoad("127.0.0.1:" + std::to_string(port), streams);
    std::printf("| %d | %d | %d | %.1f | %.1f |\n", streams, r.completed, r.faster_than_real_time,
                r.first_audio_p50_ms, r.first_audio_p99_ms);
    std::fflush(stdout);
  }
  server->Shutdown();
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::warn);  // Per-stream logs would drown the tables.
  RealTimeFactors();
  Concurrency();
  TtsConcurrency();
  return 0;
}
