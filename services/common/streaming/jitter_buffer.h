// JitterBuffer: smooths a stream of AudioChunks into a steady playout cadence. Stageflow's
// StreamingBuffer (readiness at a target duration, oldest-first overflow drops, underrun events)
// grown into a real jitter buffer in the spirit of WebRTC's NetEq:
//
// - Chunks are ordered by `sequence`: reordered chunks are put back in order, duplicates dropped,
//   and chunks arriving after their playout time discarded (counted: reordered, duplicate, late).
// - A playout Read always returns exactly the requested whole frames, so the output cadence never
//   breaks. Missing audio is concealed by fading the last audio (mirrored, so the waveform stays
//   continuous) into silence, and audio that resumes is crossfaded in: no clicks.
//   - A gap with later audio already buffered is concealed for one packet's duration; the missing
//     chunk is then given up (lost) and playout moves on.
//   - An empty buffer (underrun) is concealed without moving on: over gRPC/TCP audio is late, not
//     lost, so the late audio still plays. The delay this adds is removed afterwards by time
//     compression (dropping a bounded share of each read, crossfaded), like NetEq's accelerate.
// - Adaptive mode sets the target delay to the 95th percentile of the relative arrival delay
//   (arrival time minus media time, relative to the fastest chunk in a sliding window) plus a
//   small headroom, within [min_delay_ms, max_delay_ms] — the idea behind NetEq's delay manager.
// - Concealment is counted as concealed_ms, concealment_events and interruptions (a concealment of
//   150 ms or more, NetEq's definition).
// Thread-safe; events are emitted without the lock held.
#ifndef VOXFLOW_SERVICES_COMMON_STREAMING_JITTER_BUFFER_H_
#define VOXFLOW_SERVICES_COMMON_STREAMING_JITTER_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/streaming/events.h"
#include "voxflow/v1/audio.pb.h"

namespace voxflow::streaming {

struct JitterBufferOptions {
  int target_duration_ms = 200;  // Playout starts, and is_ready holds, at this much audio.
  int max_duration_ms = 2000;    // Beyond this the oldest audio is dropped in 50 ms steps.
  v1::AudioFormat format = v1::PCM16;
  int sample_rate = 16000;
  int channels = 1;
  // Order chunks by `sequence`. When false, chunks play in arrival order.
  bool order_by_sequence = true;
  // Move the target delay with the observed jitter.
  bool adaptive = false;
  int min_delay_ms = 20;
  int max_delay_ms = 1000;
  int adaptive_window_ms = 5000;  // Arrival history the percentile is taken over.
  double delay_percentile = 0.95;
  double adaptive_headroom_ms = 10;  // Added to the percentile.
  // Share of each read that may be dropped to bring the delay back to the target (0 disables).
  // Lossless by default: compression discards audio, so it is asked for (e.g. 0.25 for a
  // loudspeaker after a burst) and reported (stream.buffer_compressed, stats.compressed_ms).
  double max_compression = 0;
  // Excess delay tolerated before compressing starts; once started it goes on to the target.
  int compression_threshold_ms = 20;
  int fade_ms = 5;  // Length of concealment fades and crossfades.
  EventEmitter emitter;

  // The guide's presets.
  static JitterBufferOptions VoiceChat();  // target 100 ms, max 500 ms.
  static JitterBufferOptions Recording();  // target 500 ms, max 5000 ms.
};

struct JitterBufferStats {
  double duration_ms = 0;  // Audio buffered now.
  size_t bytes_buffered = 0;
  int64_t total_received = 0;  // Bytes accepted.
  int64_t total_read = 0;      // Bytes returned by reads (concealment included).
  int64_t total_dropped = 0;   // Bytes dropped on overflow.
  int64_t total_flushed = 0;   // Bytes discarded by Flush().
  bool is_ready = false;
  bool underrun_active = false;
  int64_t reordered = 0;
  int64_t duplicate = 0;
  int64_t late = 0;
  int64_t lost = 0;  // Chunks given up after concealing their gap.
  double concealed_ms = 0;
  int64_t concealment_events = 0;
  int64_t interruptions = 0;
  double compressed_ms = 0;  // Audio dropped by time compression.
  double target_delay_ms = 0;
  double current_delay_ms = 0;
};

// One playout read.
struct PlayoutFrame {
  std::string data;       // Exactly the requested frames.
  int64_t media_ms = -1;  // Media time of the first real (not concealed) sample; -1 if none.
  double concealed_ms = 0;
  bool prebuffering = false;  // Playout has not started yet: `data` is silence.
};

class JitterBuffer {
 public:
  // INVALID_ARGUMENT for an unsupported format or inconsistent durations.
  static absl::StatusOr<std::unique_ptr<JitterBuffer>> Create(JitterBufferOptions options);

  // Adds a chunk that arrived at `arrival`. INVALID_ARGUMENT if its format, rate or channels
  // differ from the buffer's or it is not whole frames; late and duplicate chunks are counted and
  // discarded (not errors).
  absl::Status Push(v1::AudioChunk chunk, absl::Time arrival = absl::Now());

  // Playout: exactly `duration_ms` of audio, rounded down to whole frames.
  PlayoutFrame Read(double duration_ms);
  PlayoutFrame ReadFrames(size_t frames);

  // Starts playout now even below the target delay (the end of a stream: play what is left).
  void StartPlayout();

  // Frames that follow the playout cursor without a gap (from the oldest chunk before playout
  // has started). A consumer that is not a loudspeaker (a recognizer) reads these at once and
  // leaves the target delay to bound only how long a missing chunk is waited for.
  size_t ContiguousFrames() const;

  // Empties the buffer at once (barge-in). Chunks still in flight from before are then late.
  void Flush();

  JitterBufferStats stats() const;

 private:
  struct Packet {
    std::string data;
    size_t offset = 0;  // Bytes already played.
    int64_t media_ms = 0;
  };

  JitterBuffer(JitterBufferOptions options, size_t bytes_per_frame);

  size_t FramesFor(double ms) const;
  double MsFor(size_t frames) const;
  size_t BufferedFrames() const { return buffered_bytes_ / bytes_per_frame_; }
  double TargetDelayMs() const;
  void UpdateDelayEstimate(int64_t media_ms, absl::Time arrival);
  // `incoming_frames`: the chunk just added (reported as not yet there).
  void DropOverflow(size_t incoming_frames, PendingEvents& events);
  // Moves up to `frames` contiguous frames from the cursor into `out`; returns frames moved.
  size_t TakeContiguous(char* out, size_t frames, int64_t* first_media_ms);
  void Conceal(char* out, size_t frames);
  void CrossfadeIn(char* out, size_t frames);
  void Compress(size_t drop_frames);
  void RememberTail(const char* out, size_t frames);

  const JitterBufferOptions options_;
  const size_t bytes_per_frame_;
  const size_t fade_frames_;
  mutable std::mutex mu_;

  std::map<uint64_t, Packet> packets_;
  size_t buffered_bytes_ = 0;
  uint64_t next_seq_ = 0;    // Next chunk to play.
  bool cursor_set_ = false;  // next_seq_ is meaningful: playout started (or flushed).
  bool playing_ = false;
  bool compressing_ = false;
  double compressed_in_episode_ms_ = 0;
  uint64_t max_seq_seen_ = 0;
  bool any_seen_ = false;
  uint64_t arrival_counter_ = 0;  // Sequence for order_by_sequence = false.
  size_t nominal_frames_ = 0;     // Frames of the latest chunk: the size assumed for a gap.
  size_t gap_concealed_frames_ = 0;

  // Concealment state.
  bool concealing_ = false;
  size_t conceal_pos_ = 0;  // Frames into the current concealment's fade.
  size_t conceal_run_ = 0;  // Frames in the current concealment event.
  bool run_counted_as_interruption_ = false;
  size_t crossfade_left_ = 0;  // Frames of crossfade still due after concealment ends.
  std::string tail_;           // Last fade_frames_ of real audio played.

  // Adaptive delay.
  std::deque<std::pair<absl::Time, int64_t>> arrival_delays_;  // (arrival, arrival_ms - media_ms)
  double adaptive_target_ms_;

  bool underrun_active_ = false;
  JitterBufferStats stats_;
};

}  // namespace voxflow::streaming

#endif  // VOXFLOW_SERVICES_COMMON_STREAMING_JITTER_BUFFER_H_
