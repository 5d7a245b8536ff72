// What the STT and TTS services' `openai` provider adds to a remote speech server's own latency,
// against the in-tree fake server (in this process, so that its clock and the caller's are the
// same): stt_server and tts_server are real processes, the caller is this process over gRPC.
// - STT: the request at the server -> the final received by the caller, minus the fake's own
//   time (its headers received -> its last byte written): reading and parsing the answer, the
//   result out through the service and the gRPC hop to the caller. Printed beside it: the
//   caller's end_of_input -> the request's headers at the server (the gRPC hop in, the WAV, the
//   multipart request sent).
// - TTS: the fake's first audio byte written -> the caller receiving its first audio (20 ms
//   chunks). What remains: reading the body, resampling 24 -> 16 kHz, chunking, the gRPC hop.
// Each --requests times, one at a time; p50 and p99 in ms.
//   bazel run -c opt //bench:speech_provider_bench
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "mocks/fake_openai_audio_server.h"
#include "services/common/audio_chunk.h"
#include "services/tts/render_speech.h"
#include "tests/util/server_process.h"
#include "voxflow/v1/stt.grpc.pb.h"
#include "voxflow/v1/tts.grpc.pb.h"

ABSL_FLAG(int, requests, 100, "Requests per service.");

namespace voxflow::bench {
namespace {

using mocks::FakeOpenAiAudioServer;
using testing::ServerProcess;

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

void Report(const char* what, const std::vector<double>& server, const std::vector<double>& seen,
            const std::vector<double>& added) {
  std::printf(
      "%-4s %zu requests: the fake's own p50 %.2f ms; the caller waited p50 %.2f ms; "
      "added by the adapter p50 %.2f ms, p99 %.2f ms\n",
      what, added.size(), Percentile(server, 0.5), Percentile(seen, 0.5), Percentile(added, 0.5),
      Percentile(added, 0.99));
}

std::vector<std::string> Flags(const FakeOpenAiAudioServer& fake) {
  return {"--providers=openai", absl::StrCat("--openai_base_url=", fake.base_url()),
          "--openai_timeout_ms=10000", "--log_level=warn"};
}

int RunStt(FakeOpenAiAudioServer& fake, const std::string& speech) {
  auto stt = ServerProcess::Start("services/stt/stt_server", Flags(fake));
  if (!stt.ok()) {
    std::fprintf(stderr, "stt_server: %s\n", stt.status().ToString().c_str());
    return 1;
  }
  auto stub = v1::SpeechToText::NewStub(
      grpc::CreateChannel((*stt)->address(), grpc::InsecureChannelCredentials()));
  const int n = absl::GetFlag(FLAGS_requests);
  std::vector<double> server, seen, added, to_server;
  for (int i = 0; i <= n; ++i) {  // The first warms the connections up.
    fake.ScriptTranscripts({"what time is it"});
    grpc::ClientContext context;
    auto stream = stub->StreamingRecognize(&context);
    v1::RecognizeRequest config;
    config.mutable_config()->set_language("en-US");
    *config.mutable_config()->mutable_audio_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
    stream->Write(config);
    for (size_t at = 0; at < speech.size(); at += 3200) {
      v1::RecognizeRequest audio;
      audio.mutable_audio()->set_format(v1::PCM16);
      audio.mutable_audio()->set_sample_rate(16000);
      audio.mutable_audio()->set_channels(1);
      audio.mutable_audio()->set_data(speech.substr(at, 3200));
      stream->Write(audio);
    }
    // Audio arrives at real time in a call, long before its end: the service has taken it in.
    absl::SleepFor(absl::Milliseconds(50));
    v1::RecognizeRequest end;
    end.set_end_of_input(true);
    const absl::Time sent = absl::Now();
    stream->Write(end);
    absl::Time final_at = absl::InfinitePast();
    for (v1::RecognizeResponse response; stream->Read(&response);) {
      if (response.has_transcript() && response.transcript().is_final()) final_at = absl::Now();
    }
    stream->WritesDone();
    if (!stream->Finish().ok() || final_at == absl::InfinitePast()) {
      std::fprintf(stderr, "stt request %d failed\n", i);
      return 1;
    }
    const FakeOpenAiAudioServer::Request r = fake.requests().back();
    if (i == 0) continue;
    server.push_back(Ms(r.answered - r.received));
    seen.push_back(Ms(final_at - sent));
    added.push_back(Ms(final_at - r.answered));
    to_server.push_back(Ms(r.received - sent));
  }
  Report("stt", server, seen, added);
  std::printf("     end_of_input -> the request at the server p50 %.2f ms, p99 %.2f ms\n",
              Percentile(to_server, 0.5), Percentile(to_server, 0.99));
  return 0;
}

int RunTts(FakeOpenAiAudioServer& fake) {
  std::vector<std::string> flags = Flags(fake);
  flags.push_back("--openai_voices=alloy");
  auto tts = ServerProcess::Start("services/tts/tts_server", flags);
  if (!tts.ok()) {
    std::fprintf(stderr, "tts_server: %s\n", tts.status().ToString().c_str());
    return 1;
  }
  auto stub = v1::TextToSpeech::NewStub(
      grpc::CreateChannel((*tts)->address(), grpc::InsecureChannelCredentials()));
  const int n = absl::GetFlag(FLAGS_requests);
  std::vector<double> server, seen, added;
  for (int i = 0; i <= n; ++i) {
    grpc::ClientContext context;
    auto stream = stub->StreamingSynthesize(&context);
    v1::SynthesizeRequest config;
    config.mutable_config()->set_language("en-US");
    config.mutable_config()->set_chunk_duration_ms(20);
    *config.mutable_config()->mutable_output_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
    stream->Write(config);
    v1::SynthesizeRequest text;
    text.mutable_text()->set_text("Here is the answer you asked for.");
    stream->Write(text);
    v1::SynthesizeRequest flush;
    flush.set_flush(true);
    const absl::Time sent = absl::Now();
    stream->Write(flush);
    absl::Time first_audio = absl::InfinitePast();
    for (v1::SynthesizeResponse response; stream->Read(&response);) {
      if (!response.audio().data().empty() && first_audio == absl::InfinitePast()) {
        first_audio = absl::Now();
        v1::SynthesizeRequest end;
        end.set_end_of_input(true);
        stream->Write(end);
        stream->WritesDone();
      }
    }
    if (!stream->Finish().ok() || first_audio == absl::InfinitePast()) {
      std::fprintf(stderr, "tts request %d failed\n", i);
      return 1;
    }
    const FakeOpenAiAudioServer::Request r = fake.requests().back();
    if (i == 0) continue;
    server.push_back(Ms(r.first_byte_sent - r.received));
    seen.push_back(Ms(first_audio - sent));
    added.push_back(Ms(first_audio - r.first_byte_sent));
  }
  Report("tts", server, seen, added);
  return 0;
}

}  // namespace
}  // namespace voxflow::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  voxflow::mocks::FakeAudioServerOptions options;
  options.speech_chunk_ms = 40;
  options.speech_chunk_interval = absl::Milliseconds(20);
  voxflow::mocks::FakeOpenAiAudioServer fake(options);
  const std::string speech = *voxflow::tts::RenderSpeech("what time is it", 16000, 300);
  if (int rc = voxflow::bench::RunStt(fake, speech); rc != 0) return rc;
  return voxflow::bench::RunTts(fake);
}
