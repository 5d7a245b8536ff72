#include "services/common/converse_resumer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "services/common/audio_chunk.h"

namespace voxflow {

ConverseResumer::ConverseResumer(v1::SessionConfig config, int64_t max_replay_bytes,
                                 int max_resumes)
    : config_(std::move(config)), max_replay_bytes_(max_replay_bytes), max_resumes_(max_resumes) {
  config_.set_follows_moves(true);
}

v1::ConverseRequest ConverseResumer::FirstRequest() const {
  v1::ConverseRequest request;
  *request.mutable_config() = config_;
  return request;
}

void ConverseResumer::AudioSent(const v1::AudioChunk& chunk) {
  stream_bytes_ += static_cast<int64_t>(chunk.data().size());
  sent_.push_back({stream_bytes_, chunk});
  kept_bytes_ += static_cast<int64_t>(chunk.data().size());
  while (!sent_.empty() && kept_bytes_ - static_cast<int64_t>(sent_.front().chunk.data().size()) >=
                               max_replay_bytes_) {
    kept_bytes_ -= static_cast<int64_t>(sent_.front().chunk.data().size());
    sent_.pop_front();
  }
}

ConverseResumer::Next ConverseResumer::OnEvent(const v1::ConverseEvent& event) {
  if (event.has_session_started()) {
    awaiting_start_ = false;
    failed_starts_ = 0;
    session_id_ = event.session_started().session_id();
    if (!event.session_started().resume_token().empty()) {
      resume_token_ = event.session_started().resume_token();
    }
    return Next::kContinue;
  }
  if (event.has_user_speech() && event.user_speech().type() == v1::UserSpeech::STARTED &&
      config_.input_format().format() != v1::OPUS) {
    absl::StatusOr<size_t> from = BytesForDuration(
        std::max<double>(0, static_cast<double>(event.user_speech().stream_ms()) - 500),
        config_.input_format());
    if (from.ok()) open_turns_[event.user_speech().turn_id()] = static_cast<int64_t>(*from);
    return Next::kContinue;
  }
  if (event.has_turn_completed()) {
    open_turns_.erase(event.turn_completed().turn_id());
    return Next::kContinue;
  }
  if (event.has_telemetry() && event.telemetry().name() == "turn.discarded") {
    int turn_id = 0;
    auto it = event.telemetry().attributes().find("turn_id");
    if (it != event.telemetry().attributes().end() && absl::SimpleAtoi(it->second, &turn_id)) {
      open_turns_.erase(turn_id);
    }
    return Next::kContinue;
  }
  if (event.has_reconnect()) {
    awaiting_start_ = false;  // It had started (a server moves only a session it serves).
    failed_starts_ = 0;
    resume_token_ = event.reconnect().resume_token();
    used_bytes_ = event.reconnect().audio_bytes_used();
    moving_ = true;
    return Next::kReconnect;
  }
  return Next::kContinue;
}

bool ConverseResumer::ShouldResume(const absl::Status& status) const {
  if (resume_token_.empty() || resumes_ >= max_resumes_) return false;
  return absl::IsUnavailable(status) || (awaiting_start_ && absl::IsCancelled(status));
}

absl::Duration ConverseResumer::RetryDelay() const {
  if (!awaiting_start_) return absl::ZeroDuration();
  return absl::Milliseconds(50) * (1 << std::min(failed_starts_, 5));
}

std::vector<v1::ConverseRequest> ConverseResumer::ResumeRequests() {
  ++resumes_;
  // The last stream was a resumed one that never started: it used none of what it was given.
  const bool none_used = awaiting_start_;
  if (none_used) ++failed_starts_;
  awaiting_start_ = true;
  std::vector<v1::ConverseRequest> requests;
  v1::ConverseRequest first = FirstRequest();
  first.mutable_config()->set_session_id("");
  first.mutable_config()->set_resume_token(resume_token_);
  requests.push_back(std::move(first));
  // After a move, the audio the old stream did not use; after a lost server, the audio of the
  // turn it never answered.
  if (none_used) used_bytes_ = 0;
  const bool lost_turn = !moving_ && !none_used && !open_turns_.empty();
  if (lost_turn) {
    used_bytes_ = open_turns_.begin()->second;
    for (const auto& [turn, from] : open_turns_) used_bytes_ = std::min(used_bytes_, from);
  }
  if (moving_ || none_used || lost_turn) {
    // Chunks past what the old stream used; a chunk it used in part goes again whole from the
    // unused part on (the server takes whole chunks, so this is the exceptional case).
    for (const Sent& sent : sent_) {
      const int64_t size = static_cast<int64_t>(sent.chunk.data().size());
      if (sent.end <= used_bytes_) continue;
      v1::ConverseRequest request;
      *request.mutable_audio() = sent.chunk;
      if (sent.end - size < used_bytes_) {
        request.mutable_audio()->set_data(
            sent.chunk.data().substr(static_cast<size_t>(used_bytes_ - (sent.end - size))));
      }
      requests.push_back(std::move(request));
    }
  }
  sent_.clear();
  open_turns_.clear();
  kept_bytes_ = 0;
  stream_bytes_ = 0;
  moving_ = false;
  used_bytes_ = 0;
  // The resent audio is this stream's, as the server counts it.
  for (const v1::ConverseRequest& request : requests) {
    if (request.has_audio()) AudioSent(request.audio());
  }
  return requests;
}

}  // namespace voxflow
