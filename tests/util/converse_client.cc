#include "tests/util/converse_client.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace voxflow::testing {

ConverseClient::ConverseClient(const std::shared_ptr<grpc::Channel>& channel)
    : stub_(v1::Orchestrator::NewStub(channel)) {
  stream_ = stub_->Converse(&context_);
  reader_ = std::thread([this] {
    v1::ConverseEvent event;
    while (stream_->Read(&event)) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back({event, absl::Now()});
      changed_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    read_done_ = true;
    changed_.notify_all();
  });
}

ConverseClient::ConverseClient(const std::shared_ptr<grpc::Channel>& channel,
                               const v1::SessionConfig& config)
    : ConverseClient(channel) {
  v1::ConverseRequest request;
  *request.mutable_config() = config;
  Send(request);
}

ConverseClient::~ConverseClient() {
  if (!finished_) {
    context_.TryCancel();
    Finish();
  }
}

bool ConverseClient::Send(const v1::ConverseRequest& request) { return stream_->Write(request); }

bool ConverseClient::SendAudio(absl::string_view pcm, const v1::AudioStreamFormat& format,
                               int chunk_ms) {
  const size_t bytes_per_ms = static_cast<size_t>(format.sample_rate() / 1000 * format.channels() *
                                                  (format.format() == v1::PCM16 ? 2 : 4));
  const size_t chunk = std::max<size_t>(bytes_per_ms * chunk_ms, 2);
  for (size_t at = 0; at < pcm.size(); at += chunk) {
    v1::ConverseRequest request;
    v1::AudioChunk* audio = request.mutable_audio();
    audio->set_data(std::string(pcm.substr(at, chunk)));
    audio->set_format(format.format());
    audio->set_sample_rate(format.sample_rate());
    audio->set_channels(format.channels());
    audio->set_sequence(sequence_++);
    if (!Send(request)) return false;
  }
  return true;
}

bool ConverseClient::SendText(const std::string& text) {
  v1::ConverseRequest request;
  request.mutable_text()->set_text(text);
  return Send(request);
}

bool ConverseClient::SendControl(v1::Control::Type type) {
  v1::ConverseRequest request;
  request.mutable_control()->set_type(type);
  return Send(request);
}

void ConverseClient::CloseSend() { stream_->WritesDone(); }

grpc::Status ConverseClient::Finish() {
  if (finished_) return status_;
  {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return read_done_; });
  }
  reader_.join();
  status_ = stream_->Finish();
  finished_ = true;
  return status_;
}

bool ConverseClient::WaitFor(const std::function<bool(const std::vector<TimedEvent>&)>& done,
                             absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_until(lock, absl::ToChronoTime(absl::Now() + timeout), [&] {
    return done(events_) || read_done_;
  }) && done(events_);
}

bool ConverseClient::WaitForTurn(int turn_id, absl::Duration timeout) {
  return WaitFor(
      [turn_id](const std::vector<TimedEvent>& events) {
        for (const TimedEvent& e : events) {
          if (e.event.has_turn_completed() && e.event.turn_completed().turn_id() == turn_id) {
            return true;
          }
        }
        return false;
      },
      timeout);
}

std::vector<TimedEvent> ConverseClient::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

std::vector<TimedEvent> ConverseClient::EventsFrom(size_t from) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (from >= events_.size()) return {};
  return std::vector<TimedEvent>(events_.begin() + static_cast<std::ptrdiff_t>(from),
                                 events_.end());
}

std::vector<TimedEvent> ConverseClient::Filter(v1::ConverseEvent::EventCase kind,
                                               int turn_id) const {
  std::vector<TimedEvent> out;
  for (TimedEvent& e : events()) {
    if (e.event.event_case() != kind) continue;
    int id = 0;
    switch (kind) {
      case v1::ConverseEvent::kTranscript:
        id = e.event.transcript().turn_id();
        break;
      case v1::ConverseEvent::kStage:
        id = e.event.stage().turn_id();
        break;
      case v1::ConverseEvent::kReplyText:
        id = e.event.reply_text().turn_id();
        break;
      case v1::ConverseEvent::kReplyAudio:
        id = e.event.reply_audio().turn_id();
        break;
      case v1::ConverseEvent::kTurnCompleted:
        id = e.event.turn_completed().turn_id();
        break;
      case v1::ConverseEvent::kError:
        id = e.event.error().turn_id();
        break;
      default:
        break;
    }
    if (turn_id == 0 || id == turn_id) out.push_back(std::move(e));
  }
  return out;
}

std::string ConverseClient::ReplyAudio(int turn_id) const {
  std::string audio;
  for (const TimedEvent& e : Filter(v1::ConverseEvent::kReplyAudio, turn_id)) {
    audio += e.event.reply_audio().audio().data();
  }
  return audio;
}

const v1::TurnCompleted* ConverseClient::turn(int turn_id) const {
  snapshot_ = Filter(v1::ConverseEvent::kTurnCompleted, turn_id);
  return snapshot_.empty() ? nullptr : &snapshot_.front().event.turn_completed();
}

}  // namespace voxflow::testing
