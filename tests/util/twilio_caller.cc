#include "tests/util/twilio_caller.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/common/audio_chunk.h"
#include "services/common/audio_converter.h"
#include "services/common/sample_format.h"
#include "services/gateway/twilio_signature.h"

namespace voxflow::testing {
namespace {

using Json = nlohmann::json;
constexpr size_t kChunkBytes = 160;  // 20 ms of mu-law 8 kHz.

std::string ToMulaw8k(const std::string& pcm16k) {
  auto converter = AudioConverter::Create(MakeStreamFormat(v1::PCM16, 16000, 1),
                                          MakeStreamFormat(v1::MULAW, 8000, 1));
  if (!converter.ok()) return "";
  absl::StatusOr<std::string> out = (*converter)->Convert(pcm16k);
  return (out.ok() ? *out : "") + (*converter)->Flush();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TwilioCaller>> TwilioCaller::Call(int port, Options options) {
  std::unique_ptr<TwilioCaller> caller(new TwilioCaller(std::move(options)));
  const std::string target = "/twilio";
  WebSocketClient::Headers headers;
  if (!caller->options_.twilio_auth_token.empty()) {
    // Twilio signs the URL it connected to.
    headers.emplace_back("X-Twilio-Signature",
                         gateway::TwilioSignature(caller->options_.twilio_auth_token,
                                                  absl::StrCat("wss://127.0.0.1:", port, target)));
  }
  TwilioCaller* raw = caller.get();
  absl::StatusOr<std::unique_ptr<WebSocketClient>> socket = WebSocketClient::Connect(
      port, target, headers, nullptr,
      [raw](const WebSocketClient::Message& message) { raw->OnMessage(message); });
  if (!socket.ok()) return socket.status();
  caller->socket_ = *std::move(socket);
  caller->socket_->SendText(R"({"event":"connected","protocol":"Call","version":"1.0.0"})");
  Json parameters = Json::object();
  for (const auto& [key, value] : caller->options_.custom_parameters) parameters[key] = value;
  caller->socket_->SendText(Json{
      {"event", "start"},
      {"sequenceNumber", caller->Sequence()},
      {"start",
       {{"accountSid", "AC00000000000000000000000000000001"},
        {"streamSid", caller->options_.stream_sid},
        {"callSid", caller->options_.call_sid},
        {"tracks", {"inbound"}},
        {"customParameters", parameters},
        {"mediaFormat", {{"encoding", "audio/x-mulaw"}, {"sampleRate", 8000}, {"channels", 1}}}}},
      {"streamSid", caller->options_.stream_sid}}
                                .dump());
  caller->thread_ = std::thread([raw] { raw->Run(); });
  return caller;
}

TwilioCaller::~TwilioCaller() {
  HangUp();
  socket_.reset();
}

void TwilioCaller::HangUp() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  socket_->SendText(
      Json{{"event", "stop"},
           {"sequenceNumber", Sequence()},
           {"streamSid", options_.stream_sid},
           {"stop",
            {{"accountSid", "AC00000000000000000000000000000001"}, {"callSid", options_.call_sid}}}}
          .dump());
}

int TwilioCaller::Say(const std::string& pcm16k) {
  std::string mulaw = ToMulaw8k(pcm16k);
  if (mulaw.size() % kChunkBytes != 0) {
    mulaw.append(kChunkBytes - mulaw.size() % kChunkBytes, SilenceByte(v1::MULAW));
  }
  std::lock_guard<std::mutex> lock(mu_);
  pending_clips_.push_back(std::move(mulaw));
  return ++tickets_;
}

std::pair<absl::Time, absl::Time> TwilioCaller::WaitSaid(int ticket) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return said_.count(ticket) > 0 || stop_; });
  return said_.count(ticket) > 0 ? said_[ticket]
                                 : std::make_pair(absl::InfinitePast(), absl::InfinitePast());
}

bool TwilioCaller::WaitFor(const std::function<bool(const Heard&)>& done, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] { return done(heard_); });
}

TwilioCaller::Heard TwilioCaller::heard() {
  std::lock_guard<std::mutex> lock(mu_);
  return heard_;
}

void TwilioCaller::EchoMark(const std::string& name) {
  socket_->SendText(Json{{"event", "mark"},
                         {"sequenceNumber", Sequence()},
                         {"streamSid", options_.stream_sid},
                         {"mark", {{"name", name}}}}
                        .dump());
}

void TwilioCaller::OnMessage(const WebSocketClient::Message& message) {
  std::lock_guard<std::mutex> lock(mu_);
  Json json = Json::parse(message.data, nullptr, false);
  const std::string event = json.is_object() && json.contains("event") && json["event"].is_string()
                                ? json["event"].get<std::string>()
                                : "";
  if (!message.text || json.is_discarded() || json.value("streamSid", "") != options_.stream_sid) {
    heard_.unexpected.push_back(message.data.substr(0, 200));
  } else if (event == "media") {
    std::string audio;
    if (!absl::Base64Unescape(json["media"].value("payload", ""), &audio)) {
      heard_.unexpected.push_back("bad base64");
    }
    heard_.reply_audio += audio;
    ++heard_.media;
    heard_.media_times.push_back(message.at);
    if (heard_.first_media == absl::InfinitePast()) heard_.first_media = message.at;
    heard_.last_media = message.at;
    playout_end_ = std::max(playout_end_, message.at) +
                   absl::Milliseconds(static_cast<double>(audio.size()) / 8);
  } else if (event == "mark") {
    marks_.emplace_back(json["mark"].value("name", ""), std::max(playout_end_, message.at));
  } else if (event == "clear") {
    heard_.clears.push_back(message.at);
    playout_end_ = message.at;
    for (const auto& [name, at] : marks_) {
      heard_.cleared_marks.push_back(name);
      EchoMark(name);
    }
    marks_.clear();
  } else {
    heard_.unexpected.push_back(message.data.substr(0, 200));
  }
  changed_.notify_all();
}

void TwilioCaller::Run() {
  const absl::Time start = absl::Now();
  int64_t chunk = 0;
  std::string clip;
  size_t clip_offset = 0;
  int clip_ticket = 0;
  int tickets_started = 0;
  while (true) {
    const absl::Time due = start + absl::Milliseconds(20 * chunk);
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (changed_.wait_until(lock, absl::ToChronoTime(due), [&] { return stop_; })) return;
      // Marks whose audio has played by now go back, in order.
      const absl::Time now = absl::Now();
      while (!marks_.empty() && marks_.front().second <= now) {
        heard_.played_marks.push_back(marks_.front().first);
        EchoMark(marks_.front().first);
        marks_.pop_front();
      }
      if (clip_offset >= clip.size() && !pending_clips_.empty()) {
        clip = std::move(pending_clips_.front());
        pending_clips_.pop_front();
        clip_offset = 0;
        clip_ticket = ++tickets_started;
        said_[clip_ticket].first = now;
      }
    }
    std::string payload;
    if (clip_offset < clip.size()) {
      payload = clip.substr(clip_offset, kChunkBytes);
      clip_offset += kChunkBytes;
      if (clip_offset >= clip.size()) {
        std::lock_guard<std::mutex> lock(mu_);
        said_[clip_ticket].second = absl::Now();
        changed_.notify_all();
      }
    } else {
      payload.assign(kChunkBytes, SilenceByte(v1::MULAW));
    }
    ++chunk;
    socket_->SendText(Json{{"event", "media"},
                           {"sequenceNumber", Sequence()},
                           {"media",
                            {{"track", "inbound"},
                             {"chunk", std::to_string(chunk)},
                             {"timestamp", std::to_string((chunk - 1) * 20)},
                             {"payload", absl::Base64Escape(payload)}}},
                           {"streamSid", options_.stream_sid}}
                          .dump());
  }
}

}  // namespace voxflow::testing
