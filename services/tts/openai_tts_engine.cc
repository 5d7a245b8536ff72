#include "services/tts/openai_tts_engine.h"

#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/common/audio_converter.h"
#include "services/common/logging.h"
#include "services/common/notification.h"
#include "spdlog/spdlog.h"

namespace voxflow::tts {
namespace {

using Json = nlohmann::json;

v1::AudioStreamFormat Pcm16(int rate, int channels) {
  v1::AudioStreamFormat format;
  format.set_format(v1::PCM16);
  format.set_sample_rate(rate);
  format.set_channels(channels);
  return format;
}

uint32_t Le32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

uint16_t Le16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// One sentence's answer, as it streams: raw PCM passed on in whole samples, or a WAV whose
// header is read first and whose samples are converted to 24 kHz mono.
class SpeechStream {
 public:
  SpeechStream(bool wav, PcmSink sink) : wav_(wav), sink_(std::move(sink)) {}

  bool delivered() const { return delivered_; }

  absl::Status Push(absl::string_view bytes) {
    if (!started_) {
      held_.append(bytes.data(), bytes.size());
      if (held_.size() < 2) return absl::OkStatus();
      // An error object sent with a 200 is not audio (nor is any JSON).
      if (held_[0] == '{' && held_[1] == '"') {
        return absl::InternalError(absl::StrCat("malformed speech: the server answered JSON, not ",
                                                wav_ ? "a WAV" : "PCM", ": ",
                                                QuoteClientValue(held_, 120)));
      }
      if (wav_) {
        absl::Status header = ReadHeader();
        if (!header.ok() || !started_) return header;
      } else {
        started_ = true;
      }
      std::string first = std::move(held_);
      held_.clear();
      return Samples(first);
    }
    return Samples(bytes);
  }

  absl::Status End() {
    if (!started_) {
      return absl::InternalError(wav_ ? "malformed speech: the WAV ended before its samples"
                                      : "malformed speech: no audio");
    }
    if (converter_ != nullptr) {
      const std::string tail = converter_->Flush();
      if (!tail.empty() && !sink_(tail)) return absl::CancelledError("synthesis stopped");
    }
    return absl::OkStatus();
  }

 private:
  absl::Status ReadHeader() {
    if (held_.size() < 12) return absl::OkStatus();
    if (held_.compare(0, 4, "RIFF") != 0 || held_.compare(8, 4, "WAVE") != 0) {
      return absl::InternalError(
          absl::StrCat("malformed speech: not a WAV: ", QuoteClientValue(held_.substr(0, 16))));
    }
    size_t at = 12;
    int rate = 0, channels = 0;
    while (at + 8 <= held_.size()) {
      const std::string id = held_.substr(at, 4);
      const uint32_t size = Le32(held_.data() + at + 4);
      if (id == "data") {
        if (rate <= 0 || channels <= 0) {
          return absl::InternalError("malformed speech: the WAV has no fmt chunk before its data");
        }
        held_.erase(0, at + 8);
        started_ = true;
        if (rate != OpenAiTtsEngine::kSampleRate || channels != 1) {
          absl::StatusOr<std::unique_ptr<AudioConverter>> converter =
              AudioConverter::Create(Pcm16(rate, channels), Pcm16(OpenAiTtsEngine::kSampleRate, 1));
          if (!converter.ok()) return converter.status();
          converter_ = *std::move(converter);
        }
        frame_bytes_ = static_cast<size_t>(2 * channels);
        return absl::OkStatus();
      }
      if (at + 8 + size > held_.size()) return absl::OkStatus();  // More header to come.
      if (id == "fmt " && size >= 16) {
        const uint16_t format = Le16(held_.data() + at + 8);
        channels = Le16(held_.data() + at + 10);
        rate = static_cast<int>(Le32(held_.data() + at + 12));
        const uint16_t bits = Le16(held_.data() + at + 22);
        if ((format != 1 && format != 0xFFFE) || bits != 16) {
          return absl::InternalError(
              absl::StrCat("malformed speech: the WAV is not 16-bit PCM (format ", format, ", ",
                           bits, " bits)"));
        }
      }
      at += 8 + size + (size & 1);
    }
    return absl::OkStatus();
  }

  absl::Status Samples(absl::string_view bytes) {
    partial_.append(bytes.data(), bytes.size());
    const size_t whole = partial_.size() - partial_.size() % frame_bytes_;
    if (whole == 0) return absl::OkStatus();
    std::string pcm = partial_.substr(0, whole);
    partial_.erase(0, whole);
    if (converter_ != nullptr) {
      absl::StatusOr<std::string> converted = converter_->Convert(pcm);
      if (!converted.ok()) return converted.status();
      pcm = *std::move(converted);
      if (pcm.empty()) return absl::OkStatus();
    }
    delivered_ = true;
    if (!sink_(pcm)) return absl::CancelledError("synthesis stopped");
    return absl::OkStatus();
  }

  const bool wav_;
  const PcmSink sink_;
  bool started_ = false;
  bool delivered_ = false;
  size_t frame_bytes_ = 2;
  std::string held_;     // Before the samples: the header, or the first bytes.
  std::string partial_;  // A sample split between two reads.
  std::unique_ptr<AudioConverter> converter_;
};

std::vector<v1::Voice> MakeVoices(const std::vector<std::string>& names,
                                  const std::vector<std::string>& languages) {
  std::vector<v1::Voice> voices;
  for (const std::string& name : names) {
    v1::Voice& voice = voices.emplace_back();
    voice.set_name(name);
    for (const std::string& language : languages) voice.add_languages(language);
    voice.set_native_sample_rate(OpenAiTtsEngine::kSampleRate);
    voice.set_provider("openai");
  }
  return voices;
}

// GET {base_url}/audio/voices: {"voices": ["af_bella", ...]} (Kokoro-FastAPI), or objects with
// a "name"/"id". Empty when the server has no such list.
std::vector<std::string> ServerVoices(const RemoteServerOptions& server) {
  HttpRequest request = RemoteHttpRequest(server, "/audio/voices");
  request.method_get = true;
  std::string body;
  Notification done;
  absl::Status status;
  auto exchange = HttpExchange::Start(
      request,
      [&body](absl::string_view bytes) {
        if (body.size() < (1 << 20)) body.append(bytes.data(), bytes.size());
        return absl::OkStatus();
      },
      [&](const absl::Status& s) {
        status = s;
        done.Notify();
      });
  done.WaitForNotification();
  std::vector<std::string> names;
  if (!status.ok()) {
    spdlog::info("tts provider openai: no voice list ({})", status.ToString());
    return names;
  }
  const Json json = Json::parse(body, nullptr, false);
  if (!json.is_object() || !json.contains("voices") || !json["voices"].is_array()) return names;
  for (const Json& v : json["voices"]) {
    if (v.is_string()) names.push_back(v.get<std::string>());
    if (v.is_object() && v.contains("name") && v["name"].is_string()) names.push_back(v["name"]);
    if (v.is_object() && !v.contains("name") && v.contains("id") && v["id"].is_string()) {
      names.push_back(v["id"]);
    }
  }
  return names;
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpenAiTtsEngine>> OpenAiTtsEngine::Create(OpenAiTtsOptions options) {
  if (options.response_format != "pcm" && options.response_format != "wav") {
    return absl::InvalidArgumentError(absl::StrCat(
        "response format ", QuoteClientValue(options.response_format), " is not pcm or wav"));
  }
  std::vector<std::string> names = options.voices;
  if (names.empty()) names = ServerVoices(options.server);
  if (names.empty()) {
    // OpenAI's own, which OpenAI-compatible servers commonly map onto theirs.
    names = {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer"};
  }
  std::vector<v1::Voice> voices = MakeVoices(names, options.languages);
  return std::unique_ptr<OpenAiTtsEngine>(new OpenAiTtsEngine(std::move(options), voices));
}

v1::AudioStreamFormat OpenAiTtsEngine::NativeFormat(const std::string&,
                                                    const v1::AudioStreamFormat&) const {
  return Pcm16(kSampleRate, 1);
}

std::function<void()> OpenAiTtsEngine::RenderAsync(const RenderRequest& request,
                                                   const v1::AudioStreamFormat&,
                                                   RenderCallbacks callbacks) {
  if (callbacks.on_provider) callbacks.on_provider(name());
  HttpRequest http = RemoteHttpRequest(options_.server, "/audio/speech");
  http.json_body = Json{{"model", options_.server.model},
                        {"input", request.text},
                        {"voice", request.voice},
                        {"response_format", options_.response_format},
                        {"speed", request.speaking_rate}}
                       .dump();
  const bool wav = options_.response_format == "wav";
  auto stream = std::make_shared<std::unique_ptr<SpeechStream>>();
  auto mu = std::make_shared<std::mutex>();
  PcmSink on_pcm = callbacks.on_pcm;
  RemoteRequest::Callbacks remote;
  remote.on_attempt = [stream, mu, wav, on_pcm] {
    std::lock_guard<std::mutex> lock(*mu);
    *stream = std::make_unique<SpeechStream>(wav, on_pcm);
  };
  remote.on_body = [stream, mu](absl::string_view bytes) {
    std::lock_guard<std::mutex> lock(*mu);
    return (*stream)->Push(bytes);
  };
  // Audio already heard is not said again by a retry: the chain's fallback decides then.
  remote.may_retry = [stream, mu] {
    std::lock_guard<std::mutex> lock(*mu);
    return *stream == nullptr || !(*stream)->delivered();
  };
  const std::string endpoint = http.url;
  auto on_done = std::move(callbacks.on_done);
  remote.on_done = [stream, mu, on_done, endpoint](const absl::Status& status) {
    absl::Status outcome = status;
    if (outcome.ok()) {
      std::lock_guard<std::mutex> lock(*mu);
      outcome = (*stream)->End();
    }
    if (!outcome.ok() && outcome.code() != absl::StatusCode::kCancelled &&
        !absl::StrContains(outcome.message(), endpoint)) {
      outcome = absl::Status(outcome.code(), absl::StrCat(endpoint, ": ", outcome.message()));
    }
    on_done(outcome);
  };
  std::shared_ptr<RemoteRequest> pending = RemoteRequest::Start(
      std::move(http), options_.server.retry, "tts", "openai", std::move(remote));
  return [pending] { pending->Abort(); };
}

absl::Status OpenAiTtsEngine::Render(const RenderRequest& request,
                                     const v1::AudioStreamFormat& native_format,
                                     const PcmSink& sink) {
  return RenderAndWait(request, native_format, sink);
}

}  // namespace voxflow::tts
