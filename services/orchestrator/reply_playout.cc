#include "services/orchestrator/reply_playout.h"

#include <algorithm>

#include "services/common/audio_chunk.h"
#include "services/common/sample_format.h"

namespace voxflow::orchestrator {

ReplyPlayout::ReplyPlayout(std::unique_ptr<streaming::JitterBuffer> buffer,
                           v1::AudioStreamFormat format, Options options,
                           std::unique_ptr<OpusStreamEncoder> opus)
    : buffer_(std::move(buffer)),
      format_(std::move(format)),
      options_(options),
      opus_(std::move(opus)),
      frame_bytes_(*BytesForDuration(options.frame_ms, format_)),
      bytes_per_sample_frame_(static_cast<size_t>(*BytesPerFrame(format_))),
      bytes_per_ms_(static_cast<double>(*BytesForDuration(1000, format_)) / 1000.0) {}

bool ReplyPlayout::HasRoomFor(size_t bytes) const {
  const double buffered_ms = buffer_->stats().duration_ms;
  return buffered_ms == 0 || buffered_ms + MsOf(bytes) <= options_.max_buffered_ms;
}

absl::Status ReplyPlayout::Push(v1::AudioChunk audio) { return buffer_->Push(std::move(audio)); }

ReplyPlayout::Paced ReplyPlayout::Pace(absl::Time now, Turn& turn) {
  Paced paced;
  if (turn.interrupted || frame_bytes_ == 0) return paced;
  if (paused_) {
    playout_end_ = std::max(playout_end_, now);  // Resuming starts from the caller's present.
    return paced;
  }
  const absl::Duration lead = absl::Milliseconds(options_.lead_ms);
  while (true) {
    if (playout_end_ < now) playout_end_ = now;  // The caller has played everything sent.
    if (playout_end_ - now >= lead) return paced;
    const size_t buffered = buffer_->stats().bytes_buffered;
    size_t take;
    if (buffered >= frame_bytes_) {
      take = frame_bytes_;
    } else if (buffered > 0 && turn.dag_done) {
      take = buffered;  // The reply's last, short frame.
    } else {
      // Nothing to send while the caller's audio runs out mid-reply: an output underrun.
      if (turn.audio_sent_ms > 0 && !turn.dag_done && playout_end_ <= now && !underrun_) {
        underrun_ = true;
        ++underruns_;
        paced.underrun_started = true;
      }
      return paced;
    }
    streaming::PlayoutFrame frame = buffer_->ReadFrames(take / bytes_per_sample_frame_);
    if (frame.prebuffering) return paced;
    underrun_ = false;
    const double ms = MsOf(frame.data.size());
    v1::ConverseEvent event;
    v1::ReplyAudio* reply = event.mutable_reply_audio();
    v1::AudioChunk* audio = reply->mutable_audio();
    if (paced.pcm.empty()) paced.pcm_starts = playout_end_;
    paced.pcm += frame.data;
    if (opus_ != nullptr) {
      // One 20 ms packet per frame; a reply's last, short frame is padded into one.
      absl::StatusOr<std::vector<std::string>> packets = opus_->EncodePiece(frame.data);
      std::string data;
      if (packets.ok()) {
        for (const std::string& packet : *packets) data += packet;  // One, at 20 ms frames.
      }
      audio->set_data(std::move(data));
      audio->set_format(v1::OPUS);
    } else {
      audio->set_data(std::move(frame.data));
      audio->set_format(format_.format());
    }
    audio->set_sample_rate(format_.sample_rate());
    audio->set_channels(format_.channels());
    audio->set_sequence(sequence_++);
    audio->set_timestamp_ms(static_cast<int64_t>(turn.audio_sent_ms));
    audio->set_is_final(turn.dag_done && buffer_->stats().bytes_buffered == 0);
    reply->set_turn_id(turn.turn_id());
    reply->set_text(turn.heard.Send(ms));
    paced.spoken.push_back({reply->text(), playout_end_, ms});
    if (turn.first_audio_sent == absl::InfinitePast()) turn.first_audio_sent = now;
    turn.audio_sent_ms += ms;
    playout_end_ += absl::Milliseconds(ms);
    paced.frames.push_back(std::move(event));
  }
}

double ReplyPlayout::Flush(absl::Time now) {
  const double flushed_ms = buffer_->stats().duration_ms;
  buffer_->Flush();
  playout_end_ = now;
  paused_ = false;
  return flushed_ms;
}

void ReplyPlayout::EndReply() {
  buffer_->Flush();  // Empty already; restarts prebuffering for the next reply.
  underrun_ = false;
  paused_ = false;
}

}  // namespace voxflow::orchestrator
