#include "services/orchestrator/reply_output.h"

#include <utility>

#include "services/orchestrator/turn_telemetry.h"
#include "services/orchestrator/voice_metrics.h"
#include "spdlog/spdlog.h"

namespace voxflow::orchestrator {

ReplyOutput::ReplyOutput(std::unique_ptr<ReplyPlayout> playout) : playout_(std::move(playout)) {}

void ReplyOutput::Play(std::shared_ptr<Turn> turn) { playing_ = std::move(turn); }

bool ReplyOutput::Plays(int turn_id) const {
  return playing_ != nullptr && playing_->turn_id() == turn_id && !playing_->interrupted;
}

ReplyOffer ReplyOutput::Offer(int turn_id, v1::AudioChunk& audio, const std::string& text) {
  if (!Plays(turn_id)) return ReplyOffer::kRefused;
  if (!playout_->HasRoomFor(audio.data().size())) return ReplyOffer::kFull;
  const double chunk_ms = playout_->MsOf(audio.data().size());
  if (absl::Status s = playout_->Push(std::move(audio)); !s.ok()) {
    spdlog::warn("turn {}: reply audio refused: {}", turn_id, s.ToString());
    return ReplyOffer::kRefused;
  }
  playing_->heard.Take(text, chunk_ms);
  return ReplyOffer::kTaken;
}

void ReplyOutput::AwaitRoom(int turn_id, size_t bytes, std::function<void()> on_room) {
  room_waiter_ = std::move(on_room);
  room_turn_id_ = turn_id;
  room_bytes_ = bytes;
}

std::function<void()> ReplyOutput::TakeWokenWaiter() {
  if (!room_waiter_) return nullptr;
  if (Plays(room_turn_id_) && !playout_->HasRoomFor(room_bytes_)) return nullptr;
  room_turn_id_ = 0;
  return std::exchange(room_waiter_, nullptr);
}

void ReplyOutput::Close() {
  playing_ = nullptr;
  room_waiter_ = nullptr;  // Its stage is cancelled with the session.
}

ReplyPlayout::Paced ReplyOutput::Pace(absl::Time now) {
  if (playing_ == nullptr) return {};
  return playout_->Pace(now, *playing_);
}

ReplyOutput::Played ReplyOutput::SendDue(absl::Time now, int hand_overs, SessionEvents& events) {
  if (playing_ == nullptr) return {};
  Turn& turn = *playing_;
  ReplyPlayout::Paced paced = playout_->Pace(now, turn);
  for (v1::ConverseEvent& frame : paced.frames) {
    if (frame.has_reply_audio()) VoiceMetrics::CountHandOvers(HandOverDirection::kOut, hand_overs);
    events.Send(std::move(frame));
  }
  if (paced.underrun_started) {
    streaming::EventAttributes attributes = ReplyAttributes(turn);
    attributes["buffer"] = "output";
    events.SendTelemetry("stream.buffer_underrun", attributes);
  }
  return {std::move(paced.pcm), paced.pcm_starts, std::move(paced.spoken)};
}

void ReplyOutput::Hold(bool paused, double stream_ms, SessionEvents& events) {
  if (playing_ == nullptr) return;
  playout_->set_paused(paused);
  VoiceMetrics::CountBargeIn(paused ? "paused" : "resumed");
  events.SendTelemetry(paused ? "turn.reply_paused" : "turn.reply_resumed",
                       ReplyAttributes(*playing_, stream_ms));
}

bool ReplyOutput::Playing() const {
  if (playing_ == nullptr) return false;
  const Turn& turn = *playing_;
  return !turn.interrupted && turn.audio_sent_ms > 0 &&
         (!turn.dag_done || playout_->bytes_buffered() > 0);
}

}  // namespace voxflow::orchestrator
