#include "mocks/fake_openai_audio_server.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "services/common/audio_converter.h"
#include "services/common/wav_bytes.h"
#include "services/stt/pocketsphinx_engine.h"
#include "services/tts/render_speech.h"

namespace voxflow::mocks {
namespace {

using Json = nlohmann::json;

constexpr int kSpeechRate = 24000;

// When the request's headers arrived, before its body was read (httplib serves a request on one
// thread): a benchmark counts the upload against the client, not the server.
thread_local absl::Time request_arrived;  // OpenAI's `pcm`: 24 kHz, 16-bit, mono, little-endian.

std::string Error(absl::string_view message) {
  return Json{{"error", {{"message", message}, {"type", "invalid_request_error"}}}}.dump();
}

}  // namespace

FakeOpenAiAudioServer::FakeOpenAiAudioServer(FakeAudioServerOptions options)
    : options_(std::move(options)), server_(std::make_unique<httplib::Server>()) {
  stt::PocketsphinxOptions pocketsphinx;
  pocketsphinx.model_dir = options_.pocketsphinx_model_dir;
  if (auto engine = stt::PocketsphinxEngine::Create(pocketsphinx); engine.ok()) {
    pocketsphinx_ = *std::move(engine);
  }
  server_->set_keep_alive_timeout(1);
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(1000000);
  const int threads = options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  server_->set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    request_arrived = absl::Now();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server_->Post("/v1/audio/transcriptions", [this](const httplib::Request& request,
                                                   httplib::Response& response) {
    const size_t index = Record(request);
    const FakeAudioFault fault = TakeFault(Endpoint::kTranscriptions);
    if (!Pause(fault.first_byte_delay)) return;
    auto answer = [&](int status, const std::string& body, const char* type) {
      response.status = status;
      response.set_content(body, type);
      Update(index, absl::Now(), absl::Now(), status);
    };
    if (fault.status != 0) {
      if (!fault.retry_after.empty()) response.set_header("Retry-After", fault.retry_after);
      return answer(fault.status, Error("scripted failure"), "application/json");
    }
    if (!request.has_file("file"))
      return answer(400, Error("file is required"), "application/json");
    if (!request.has_file("model")) {
      return answer(400, Error("model is required"), "application/json");
    }
    auto value = [&](const char* name, const std::string& otherwise) {
      return request.has_file(name) ? request.get_file_value(name).content : otherwise;
    };
    const std::string format = value("response_format", "json");
    if (format == "verbose_json" && !options_.verbose_json) {
      return answer(400, Error("response_format 'verbose_json' is not supported"),
                    "application/json");
    }
    if (format != "json" && format != "verbose_json") {
      return answer(400, Error("response_format must be json or verbose_json here"),
                    "application/json");
    }
    const std::string wav = request.get_file_value("file").content;
    absl::StatusOr<DecodedWav> audio = DecodeWav(wav);
    if (!audio.ok()) return answer(400, Error("file is not a WAV"), "application/json");
    std::string text;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!scripted_.empty()) {
        text = scripted_.front();
        scripted_.pop_front();
        requests_[index].scripted = text;
      }
    }
    if (text.empty()) text = Transcribe(wav);
    if (!Pause(options_.transcription_delay)) return;
    if (fault.malformed) return answer(200, "{\"text\": tru", "application/json");
    const double duration =
        static_cast<double>(audio->pcm.size()) / 2 / audio->channels / audio->sample_rate;
    const std::vector<std::string> words = absl::StrSplit(text, ' ', absl::SkipEmpty());
    std::string body;
    const char* type = "application/json";
    if (value("stream", "false") == "true" && options_.streams_transcripts) {
      type = "text/event-stream";
      for (size_t i = 0; i < words.size(); ++i) {
        const std::string delta = i == 0 ? words[i] : absl::StrCat(" ", words[i]);
        absl::StrAppend(&body,
                        "data: ", Json{{"type", "transcript.text.delta"}, {"delta", delta}}.dump(),
                        "\n\n");
      }
      absl::StrAppend(
          &body, "data: ", Json{{"type", "transcript.text.done"}, {"text", text}}.dump(), "\n\n");
    } else if (format == "verbose_json") {
      Json timed = Json::array();
      const double each = words.empty() ? 0 : duration / words.size();
      for (size_t i = 0; i < words.size(); ++i) {
        timed.push_back({{"word", words[i]}, {"start", i * each}, {"end", (i + 1) * each}});
      }
      body = Json{{"task", "transcribe"},
                  {"language", "english"},
                  {"duration", duration},
                  {"text", text},
                  {"words", timed},
                  {"segments",
                   {{{"id", 0},
                     {"start", 0},
                     {"end", duration},
                     {"text", text},
                     {"avg_logprob", -0.2}}}}}
                 .dump();
    } else {
      body = Json{{"text", text}}.dump();
    }
    response.status = 200;
    const bool cut = fault.cut;
    const bool events = std::string(type) == "text/event-stream";
    response.set_chunked_content_provider(
        type, [this, index, body, cut, events](size_t, httplib::DataSink& sink) {
          const absl::Time first = absl::Now();
          // Events go a few at a time, as a streaming server sends them.
          const size_t end = cut ? body.size() / 2 : body.size();
          const size_t step = events ? 64 : end;
          for (size_t at = 0; at < end; at += step) {
            const size_t n = std::min(step, end - at);
            if (!sink.is_writable() || !sink.write(body.data() + at, n)) return false;
            if (events && !Pause(absl::Milliseconds(5))) return false;
          }
          Update(index, first, absl::Now(), 200);
          if (cut) return false;  // The connection closes without the body's end.
          sink.done();
          return true;
        });
  });

  server_->Post("/v1/audio/speech", [this](const httplib::Request& request,
                                           httplib::Response& response) {
    const size_t index = Record(request);
    const FakeAudioFault fault = TakeFault(Endpoint::kSpeech);
    if (!Pause(fault.first_byte_delay)) return;
    auto answer = [&](int status, const std::string& body) {
      response.status = status;
      response.set_content(body, "application/json");
      Update(index, absl::Now(), absl::Now(), status);
    };
    if (fault.status != 0) {
      if (!fault.retry_after.empty()) response.set_header("Retry-After", fault.retry_after);
      return answer(fault.status, Error("scripted failure"));
    }
    const Json body = Json::parse(request.body, nullptr, false);
    if (!body.is_object()) return answer(400, Error("the body is not a JSON object"));
    for (const char* field : {"model", "input", "voice"}) {
      if (!body.contains(field) || !body[field].is_string()) {
        return answer(400, Error(absl::StrCat(field, " is required")));
      }
    }
    const std::string voice = body["voice"];
    if (std::find(options_.voices.begin(), options_.voices.end(), voice) == options_.voices.end()) {
      return answer(400, Error(absl::StrCat("voice '", voice, "' is not one of this server's")));
    }
    const std::string format = body.value("response_format", "mp3");
    if (format != "pcm" && format != "wav") {
      return answer(400, Error("response_format must be pcm or wav here"));
    }
    if (fault.malformed) return answer(200, Error("not audio"));
    const std::string input = body["input"];
    std::string audio;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = rendered_.find(input); it != rendered_.end()) audio = it->second;
    }
    if (audio.empty()) {
      absl::StatusOr<std::string> pcm = tts::RenderSpeech(input, kSpeechRate, 0);
      if (!pcm.ok()) return answer(500, Error(pcm.status().ToString()));
      audio = *std::move(pcm);
      std::lock_guard<std::mutex> lock(mu_);
      rendered_[input] = audio;
    }
    if (format == "wav") audio = *EncodeWav(audio, kSpeechRate, 1);
    const size_t chunk = static_cast<size_t>(kSpeechRate) * 2 * options_.speech_chunk_ms / 1000;
    const absl::Duration interval = options_.speech_chunk_interval;
    const bool cut = fault.cut;
    response.status = 200;
    response.set_chunked_content_provider(
        format == "pcm" ? "audio/pcm" : "audio/wav",
        [this, index, audio, chunk, interval, cut](size_t, httplib::DataSink& sink) {
          const size_t end = cut ? audio.size() / 2 : audio.size();
          absl::Time first = absl::InfiniteFuture();
          for (size_t at = 0; at < end; at += chunk) {
            if (at > 0 && !Pause(interval)) return false;  // "Rendering" the next piece.
            const size_t n = std::min(chunk, end - at);
            if (!sink.is_writable() || !sink.write(audio.data() + at, n)) return false;
            if (at == 0) first = absl::Now();
          }
          Update(index, first, absl::Now(), 200);
          if (cut) return false;
          sink.done();
          return true;
        });
  });

  server_->Get("/v1/audio/voices", [this](const httplib::Request&, httplib::Response& response) {
    if (!options_.lists_voices) {
      response.status = 404;
      response.set_content(Error("no such route"), "application/json");
      return;
    }
    response.set_content(Json{{"voices", options_.voices}}.dump(), "application/json");
  });

  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

FakeOpenAiAudioServer::~FakeOpenAiAudioServer() {
  stopping_ = true;
  // stop() before the loop runs would be lost, and the loop would never end.
  while (!server_->is_running()) absl::SleepFor(absl::Milliseconds(1));
  server_->stop();
  thread_.join();
}

std::string FakeOpenAiAudioServer::base_url() const {
  return absl::StrCat("http://127.0.0.1:", port_, "/v1");
}

void FakeOpenAiAudioServer::ScriptTranscripts(std::vector<std::string> texts) {
  std::lock_guard<std::mutex> lock(mu_);
  scripted_.assign(texts.begin(), texts.end());
}

void FakeOpenAiAudioServer::Fail(Endpoint endpoint, FakeAudioFault fault, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_[endpoint] = {std::move(fault), times};
}

void FakeOpenAiAudioServer::Heal() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
}

std::vector<FakeOpenAiAudioServer::Request> FakeOpenAiAudioServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

int FakeOpenAiAudioServer::count(Endpoint endpoint) const {
  const std::string path =
      endpoint == Endpoint::kSpeech ? "/v1/audio/speech" : "/v1/audio/transcriptions";
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(std::count_if(requests_.begin(), requests_.end(),
                                        [&](const Request& r) { return r.path == path; }));
}

FakeAudioFault FakeOpenAiAudioServer::TakeFault(Endpoint endpoint) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = faults_.find(endpoint);
  if (it == faults_.end() || it->second.second == 0) return {};
  if (it->second.second > 0) --it->second.second;
  return it->second.first;
}

size_t FakeOpenAiAudioServer::Record(const httplib::Request& request) {
  Request seen;
  seen.path = request.path;
  seen.authorization = request.get_header_value("Authorization");
  seen.content_type = request.get_header_value("Content-Type");
  seen.received = request_arrived;
  if (request.is_multipart_form_data()) {
    for (const auto& [name, part] : request.files) {
      seen.fields.emplace(name, part.content);
      if (!part.filename.empty()) seen.filenames[name] = part.filename;
    }
  } else {
    seen.body = request.body;
  }
  std::lock_guard<std::mutex> lock(mu_);
  requests_.push_back(std::move(seen));
  arrived_.notify_all();
  return requests_.size() - 1;
}

bool FakeOpenAiAudioServer::WaitForRequests(Endpoint endpoint, int n,
                                            absl::Duration timeout) const {
  const std::string path =
      endpoint == Endpoint::kSpeech ? "/v1/audio/speech" : "/v1/audio/transcriptions";
  std::unique_lock<std::mutex> lock(mu_);
  return arrived_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
    return std::count_if(requests_.begin(), requests_.end(),
                         [&](const Request& r) { return r.path == path; }) >= n;
  });
}

void FakeOpenAiAudioServer::Update(size_t index, absl::Time first_byte, absl::Time answered,
                                   int status) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_[index].first_byte_sent = first_byte;
  requests_[index].answered = answered;
  requests_[index].status = status;
}

bool FakeOpenAiAudioServer::Pause(absl::Duration duration) {
  const absl::Time end = absl::Now() + duration;
  while (absl::Now() < end) {
    if (stopping_) return false;
    absl::SleepFor(std::min(absl::Milliseconds(10), end - absl::Now()));
  }
  return !stopping_;
}

std::string FakeOpenAiAudioServer::Transcribe(const std::string& wav) {
  if (pocketsphinx_ == nullptr) return "";
  absl::StatusOr<DecodedWav> audio = DecodeWav(wav);
  if (!audio.ok()) return "";
  v1::RecognitionConfig config;
  config.set_language("en-US");
  v1::AudioStreamFormat from;
  from.set_format(v1::PCM16);
  from.set_sample_rate(audio->sample_rate);
  from.set_channels(audio->channels);
  const v1::AudioStreamFormat native = pocketsphinx_->NativeFormat(from);
  *config.mutable_audio_format() = native;
  auto converter = AudioConverter::Create(from, native);
  if (!converter.ok()) return "";
  absl::StatusOr<std::string> pcm = (*converter)->Convert(audio->pcm);
  if (!pcm.ok()) return "";
  *pcm += (*converter)->Flush();
  std::vector<std::string> finals;
  auto recognizer = pocketsphinx_->Open(
      config,
      [&finals](v1::RecognizeResponse response) {
        if (response.has_transcript() && response.transcript().is_final() &&
            !response.transcript().text().empty()) {
          finals.push_back(response.transcript().text());
        }
      },
      nullptr);
  if (!recognizer.ok()) return "";
  const size_t piece = 3200;  // 100 ms.
  for (size_t at = 0; at < pcm->size(); at += piece) {
    if (!(*recognizer)->Process(absl::string_view(*pcm).substr(at, piece)).ok()) return "";
  }
  if (!(*recognizer)->Finish().ok()) return "";
  return absl::StrJoin(finals, " ");
}

}  // namespace voxflow::mocks
