// ReplyPlayout: the reply audio on its way to the caller. Audio from tts waits in the output
// JitterBuffer and goes out in frames paced at real time, `lead_ms` ahead of the caller's
// playback; a pause (voice over the reply) holds it where it is; Flush drops the rest (barge-in).
// Each frame is accounted to the turn it speaks for (its HeardReply, first audio, audio sent).
// Not thread-safe: the session's mutex guards it.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_REPLY_PLAYOUT_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_REPLY_PLAYOUT_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/opus_codec.h"
#include "services/common/streaming/jitter_buffer.h"
#include "services/orchestrator/turn.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

class ReplyPlayout {
 public:
  struct Options {
    int frame_ms = 20;
    int lead_ms = 60;
    int max_buffered_ms = 3000;  // tts waits (HasRoomFor is false) beyond it.
  };
  // What a frame of the reply says, and when it is due to play.
  struct Spoken {
    std::string text;
    absl::Time starts;
    double ms = 0;
  };
  // What one Pace() call produced.
  struct Paced {
    std::vector<v1::ConverseEvent> frames;  // ReplyAudio events, in order.
    std::string pcm;  // Their audio as sent, before any encoding (the echo canceller's far end).
    absl::Time pcm_starts;          // When the first of it is due to play.
    bool underrun_started = false;  // The caller's audio ran out mid-reply (once per underrun).
    std::vector<Spoken> spoken;     // One per frame.
  };

  // `opus`: set for an OPUS output stream; `format` is then the PCM16 it encodes, one 20 ms
  // packet per frame.
  ReplyPlayout(std::unique_ptr<streaming::JitterBuffer> buffer, v1::AudioStreamFormat format,
               Options options, std::unique_ptr<OpusStreamEncoder> opus = nullptr);

  // Room for `bytes` more without passing max_buffered_ms (always, when empty).
  bool HasRoomFor(size_t bytes) const;
  absl::Status Push(v1::AudioChunk audio);
  double MsOf(size_t bytes) const { return static_cast<double>(bytes) / bytes_per_ms_; }
  size_t bytes_buffered() const { return buffer_->stats().bytes_buffered; }

  // The frames of `turn` due at `now`: enough to stay `lead_ms` ahead of the caller's playback.
  Paced Pace(absl::Time now, Turn& turn);
  // Voice over the reply: hold it (and pick up from the caller's present when resumed).
  void set_paused(bool paused) { paused_ = paused; }
  bool paused() const { return paused_; }
  // Barge-in: drops what waits; returns its duration in ms. The caller hears nothing more.
  double Flush(absl::Time now);
  // The reply is over: ready for the next one.
  void EndReply();
  int64_t underruns() const { return underruns_; }

 private:
  const std::unique_ptr<streaming::JitterBuffer> buffer_;
  const v1::AudioStreamFormat format_;
  const Options options_;
  const std::unique_ptr<OpusStreamEncoder> opus_;
  const size_t frame_bytes_;
  const size_t bytes_per_sample_frame_;
  const double bytes_per_ms_;
  bool paused_ = false;
  uint64_t sequence_ = 0;
  absl::Time playout_end_ = absl::InfinitePast();  // When the caller will have played all sent.
  bool underrun_ = false;
  int64_t underruns_ = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_REPLY_PLAYOUT_H_
