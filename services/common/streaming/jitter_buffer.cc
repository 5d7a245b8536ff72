#include "services/common/streaming/jitter_buffer.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/audio_chunk.h"
#include "services/common/sample_format.h"

namespace voxflow::streaming {
namespace {

constexpr int kOverflowStepMs = 50;
constexpr double kInterruptionMs = 150;  // NetEq: a concealment this long is an interruption.
constexpr size_t kMinArrivalsForEstimate = 5;

v1::AudioStreamFormat StreamFormat(const JitterBufferOptions& options) {
  v1::AudioStreamFormat format;
  format.set_format(options.format);
  format.set_sample_rate(options.sample_rate);
  format.set_channels(options.channels);
  return format;
}

std::string Ms(double ms) { return absl::StrFormat("%.1f", ms); }

}  // namespace

JitterBufferOptions JitterBufferOptions::VoiceChat() {
  JitterBufferOptions options;
  options.target_duration_ms = 100;
  options.max_duration_ms = 500;
  return options;
}

JitterBufferOptions JitterBufferOptions::Recording() {
  JitterBufferOptions options;
  options.target_duration_ms = 500;
  options.max_duration_ms = 5000;
  return options;
}

absl::StatusOr<std::unique_ptr<JitterBuffer>> JitterBuffer::Create(JitterBufferOptions options) {
  const v1::AudioStreamFormat format = StreamFormat(options);
  if (absl::Status status = ValidateStreamFormat(format, "jitter buffer"); !status.ok()) {
    return status;
  }
  if (options.target_duration_ms < 0 || options.max_duration_ms <= 0 ||
      options.target_duration_ms > options.max_duration_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("jitter buffer: need 0 <= target_duration_ms (", options.target_duration_ms,
                     ") <= max_duration_ms (", options.max_duration_ms, ")"));
  }
  if (options.adaptive &&
      (options.min_delay_ms < 0 || options.min_delay_ms > options.max_delay_ms)) {
    return absl::InvalidArgumentError(absl::StrCat("jitter buffer: need 0 <= min_delay_ms (",
                                                   options.min_delay_ms, ") <= max_delay_ms (",
                                                   options.max_delay_ms, ")"));
  }
  if (options.max_compression < 0 || options.max_compression > 0.5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "jitter buffer: max_compression must be in [0, 0.5], got ", options.max_compression));
  }
  const size_t bytes_per_frame = static_cast<size_t>(*BytesPerFrame(format));
  return std::unique_ptr<JitterBuffer>(new JitterBuffer(std::move(options), bytes_per_frame));
}

JitterBuffer::JitterBuffer(JitterBufferOptions options, size_t bytes_per_frame)
    : options_(std::move(options)),
      bytes_per_frame_(bytes_per_frame),
      fade_frames_(std::max<size_t>(1, static_cast<size_t>(options_.fade_ms) *
                                           static_cast<size_t>(options_.sample_rate) / 1000)),
      adaptive_target_ms_(options_.target_duration_ms) {}

size_t JitterBuffer::FramesFor(double ms) const {
  return static_cast<size_t>(ms * options_.sample_rate / 1000.0 + 1e-9);
}

double JitterBuffer::MsFor(size_t frames) const {
  return static_cast<double>(frames) * 1000.0 / options_.sample_rate;
}

double JitterBuffer::TargetDelayMs() const {
  return options_.adaptive ? adaptive_target_ms_ : options_.target_duration_ms;
}

absl::Status JitterBuffer::Push(v1::AudioChunk chunk, absl::Time arrival) {
  const v1::AudioStreamFormat format = StreamFormat(options_);
  const size_t max_bytes =
      std::max<size_t>(FramesFor(options_.max_duration_ms), 1) * bytes_per_frame_;
  if (absl::Status status = ValidateChunk(chunk, format, max_bytes); !status.ok()) return status;

  PendingEvents events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t seq = options_.order_by_sequence ? chunk.sequence() : arrival_counter_++;
    if (cursor_set_ && seq < next_seq_) {
      ++stats_.late;
      return absl::OkStatus();
    }
    if (packets_.contains(seq)) {
      ++stats_.duplicate;
      return absl::OkStatus();
    }
    if (any_seen_ && seq < max_seq_seen_) ++stats_.reordered;
    if (!any_seen_ || seq > max_seq_seen_) max_seq_seen_ = seq;
    any_seen_ = true;

    const size_t frames = chunk.data().size() / bytes_per_frame_;
    nominal_frames_ = frames;
    // Media time: the chunk's own timestamp, or its place in a stream of equal chunks.
    const int64_t media_ms =
        chunk.timestamp_ms() != 0 || seq == 0
            ? chunk.timestamp_ms()
            : static_cast<int64_t>(std::min(static_cast<double>(seq) * MsFor(frames), 9e18));
    if (cursor_set_ && seq == next_seq_) gap_concealed_frames_ = 0;  // The awaited chunk is here.
    buffered_bytes_ += chunk.data().size();
    stats_.total_received += static_cast<int64_t>(chunk.data().size());
    packets_[seq] = Packet{std::move(*chunk.mutable_data()), 0, media_ms};
    if (options_.adaptive) UpdateDelayEstimate(media_ms, arrival);
    DropOverflow(frames, events);
  }
  events.EmitTo(options_.emitter);
  return absl::OkStatus();
}

void JitterBuffer::UpdateDelayEstimate(int64_t media_ms, absl::Time arrival) {
  arrival_delays_.emplace_back(arrival, absl::ToUnixMillis(arrival) - media_ms);
  const absl::Time horizon = arrival - absl::Milliseconds(options_.adaptive_window_ms);
  while (!arrival_delays_.empty() && arrival_delays_.front().first < horizon) {
    arrival_delays_.pop_front();
  }
  if (arrival_delays_.size() < kMinArrivalsForEstimate) return;
  std::vector<int64_t> delays;
  delays.reserve(arrival_delays_.size());
  for (const auto& entry : arrival_delays_) delays.push_back(entry.second);
  const int64_t fastest = *std::min_element(delays.begin(), delays.end());
  const size_t at = static_cast<size_t>(options_.delay_percentile * (delays.size() - 1));
  std::nth_element(delays.begin(), delays.begin() + at, delays.end());
  // A chunk that is `relative` ms later than the fastest still plays on time if the buffer holds
  // that much when the fastest chunks arrive; the headroom absorbs read-cadence granularity.
  const double relative = static_cast<double>(delays[at] - fastest);
  adaptive_target_ms_ = std::clamp(
      relative + options_.adaptive_headroom_ms, static_cast<double>(options_.min_delay_ms),
      static_cast<double>(std::min(options_.max_delay_ms, options_.max_duration_ms)));
}

void JitterBuffer::DropOverflow(size_t incoming_frames, PendingEvents& events) {
  const size_t max_frames = FramesFor(options_.max_duration_ms);
  if (BufferedFrames() <= max_frames) return;
  if (!cursor_set_) {
    next_seq_ = packets_.begin()->first;
    cursor_set_ = true;
  }
  size_t dropped_bytes = 0;
  while (BufferedFrames() > max_frames) {
    size_t taken = TakeContiguous(nullptr, FramesFor(kOverflowStepMs), nullptr);
    if (taken == 0) {
      next_seq_ = packets_.begin()->first;  // Skip a gap at the front.
      gap_concealed_frames_ = 0;
    }
    dropped_bytes += taken * bytes_per_frame_;
  }
  stats_.total_dropped += static_cast<int64_t>(dropped_bytes);
  // Stageflow's order is drop, emit, add: the duration after the drop, without the new chunk.
  const size_t buffered = BufferedFrames();
  events.Add("stream.buffer_overflow",
             {{"bytes_dropped", std::to_string(dropped_bytes)},
              {"buffer_duration_ms",
               Ms(MsFor(buffered > incoming_frames ? buffered - incoming_frames : 0))},
              {"max_duration_ms", std::to_string(options_.max_duration_ms)}});
}

size_t JitterBuffer::TakeContiguous(char* out, size_t frames, int64_t* first_media_ms) {
  size_t taken = 0;
  while (taken < frames && !packets_.empty() && packets_.begin()->first == next_seq_) {
    Packet& packet = packets_.begin()->second;
    const size_t available = (packet.data.size() - packet.offset) / bytes_per_frame_;
    const size_t n = std::min(available, frames - taken);
    if (first_media_ms != nullptr && *first_media_ms < 0) {
      *first_media_ms =
          packet.media_ms + static_cast<int64_t>(MsFor(packet.offset / bytes_per_frame_));
    }
    if (out != nullptr) {
      std::memcpy(out + taken * bytes_per_frame_, packet.data.data() + packet.offset,
                  n * bytes_per_frame_);
    }
    packet.offset += n * bytes_per_frame_;
    buffered_bytes_ -= n * bytes_per_frame_;
    taken += n;
    if (packet.offset == packet.data.size()) {
      packets_.erase(packets_.begin());
      ++next_seq_;
      gap_concealed_frames_ = 0;
    }
  }
  return taken;
}

// Sample `frame` frames into a concealment: the last real audio played backwards (continuous
// with what was played) under a linear fade to silence; silence after the fade.
static float ConcealSample(const std::string& tail, size_t bytes_per_frame, size_t fade_frames,
                           v1::AudioFormat format, int bytes_per_sample, size_t frame,
                           int channel) {
  const size_t history = tail.size() / bytes_per_frame;
  if (history == 0 || frame >= fade_frames) return 0.0f;
  const size_t index = history - 1 - (frame % history);
  const float gain = 1.0f - static_cast<float>(frame + 1) / static_cast<float>(fade_frames);
  return gain * DecodeSample(format, tail.data() + index * bytes_per_frame +
                                         static_cast<size_t>(channel * bytes_per_sample));
}

void JitterBuffer::Conceal(char* out, size_t frames) {
  if (!concealing_) {
    concealing_ = true;
    conceal_pos_ = 0;
    conceal_run_ = 0;
    run_counted_as_interruption_ = false;
    crossfade_left_ = 0;
    ++stats_.concealment_events;
  }
  const int bytes_per_sample = static_cast<int>(bytes_per_frame_) / options_.channels;
  for (size_t f = 0; f < frames && conceal_pos_ + f < fade_frames_; ++f) {
    for (int c = 0; c < options_.channels; ++c) {
      const float value = ConcealSample(tail_, bytes_per_frame_, fade_frames_, options_.format,
                                        bytes_per_sample, conceal_pos_ + f, c);
      EncodeSample(options_.format, value,
                   out + f * bytes_per_frame_ + static_cast<size_t>(c * bytes_per_sample));
    }
  }
  conceal_pos_ += frames;
  conceal_run_ += frames;
  stats_.concealed_ms += MsFor(frames);
  if (!run_counted_as_interruption_ && MsFor(conceal_run_) >= kInterruptionMs) {
    ++stats_.interruptions;
    run_counted_as_interruption_ = true;
  }
}

void JitterBuffer::CrossfadeIn(char* out, size_t frames) {
  const int bytes_per_sample = static_cast<int>(bytes_per_frame_) / options_.channels;
  for (size_t f = 0; f < frames && crossfade_left_ > 0; ++f, --crossfade_left_) {
    const size_t pos = fade_frames_ - crossfade_left_;
    const float w = static_cast<float>(pos + 1) / static_cast<float>(fade_frames_ + 1);
    for (int c = 0; c < options_.channels; ++c) {
      char* sample = out + f * bytes_per_frame_ + static_cast<size_t>(c * bytes_per_sample);
      const float concealed = ConcealSample(tail_, bytes_per_frame_, fade_frames_, options_.format,
                                            bytes_per_sample, conceal_pos_ + pos, c);
      EncodeSample(options_.format, w * DecodeSample(options_.format, sample) + (1 - w) * concealed,
                   sample);
    }
  }
}

void JitterBuffer::Compress(size_t drop_frames) {
  // Remove exactly `drop_frames` at the cursor, blending the start of the removed audio into the
  // audio after the cut so the waveform stays continuous with what was already played.
  std::string removed(drop_frames * bytes_per_frame_, '\0');
  if (TakeContiguous(removed.data(), drop_frames, nullptr) != drop_frames) return;
  const size_t fade = std::min(fade_frames_, drop_frames);
  const int bytes_per_sample = static_cast<int>(bytes_per_frame_) / options_.channels;
  size_t f = 0;
  for (auto it = packets_.begin(); it != packets_.end() && f < fade; ++it) {
    Packet& packet = it->second;
    for (size_t offset = packet.offset; offset < packet.data.size() && f < fade;
         offset += bytes_per_frame_, ++f) {
      const float w = static_cast<float>(f + 1) / static_cast<float>(fade + 1);
      for (int c = 0; c < options_.channels; ++c) {
        char* after = packet.data.data() + offset + static_cast<size_t>(c * bytes_per_sample);
        const char* before =
            removed.data() + f * bytes_per_frame_ + static_cast<size_t>(c * bytes_per_sample);
        EncodeSample(options_.format,
                     (1 - w) * DecodeSample(options_.format, before) +
                         w * DecodeSample(options_.format, after),
                     after);
      }
    }
  }
  stats_.compressed_ms += MsFor(drop_frames);
}

void JitterBuffer::RememberTail(const char* out, size_t frames) {
  const size_t keep = std::min(frames, fade_frames_);
  tail_.append(out + (frames - keep) * bytes_per_frame_, keep * bytes_per_frame_);
  const size_t max_bytes = fade_frames_ * bytes_per_frame_;
  if (tail_.size() > max_bytes) tail_.erase(0, tail_.size() - max_bytes);
}

PlayoutFrame JitterBuffer::Read(double duration_ms) { return ReadFrames(FramesFor(duration_ms)); }

PlayoutFrame JitterBuffer::ReadFrames(size_t frames) {
  PlayoutFrame frame;
  frame.data.assign(frames * bytes_per_frame_, SilenceByte(options_.format));
  PendingEvents events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.total_read += static_cast<int64_t>(frame.data.size());
    if (!playing_) {
      if (packets_.empty() || BufferedFrames() < FramesFor(TargetDelayMs())) {
        frame.prebuffering = true;
        // Stageflow counts a read that finds less audio than it asks for as an underrun, ready
        // or not (the frame is still the full duration, of silence).
        const size_t available = BufferedFrames();
        if (available < frames && !underrun_active_) {
          underrun_active_ = true;
          events.Add("stream.buffer_underrun",
                     {{"bytes_requested", std::to_string(frame.data.size())},
                      {"bytes_available", std::to_string(available * bytes_per_frame_)},
                      {"buffer_duration_ms", Ms(MsFor(available))}});
        } else if (available >= frames && underrun_active_) {
          underrun_active_ = false;
          events.Add("stream.buffer_recovered", {{"buffer_duration_ms", Ms(MsFor(available))}});
        }
        events.EmitTo(options_.emitter);
        return frame;
      }
      playing_ = true;
      next_seq_ = packets_.begin()->first;  // Every buffered chunk is at or after the cursor.
      cursor_set_ = true;
    }

    // Time compression when the delay has grown past the target (after an underrun, a burst):
    // it starts above target + threshold and, once started, goes on down to the target.
    if (options_.max_compression > 0) {
      const size_t buffered = BufferedFrames();
      const size_t target = FramesFor(TargetDelayMs());
      if (buffered > target + FramesFor(options_.compression_threshold_ms)) compressing_ = true;
      if (compressing_) {
        const size_t drop = std::min(buffered > target ? buffered - target : 0,
                                     static_cast<size_t>(frames * options_.max_compression));
        if (drop > 0 && buffered >= frames + drop + fade_frames_) {
          Compress(drop);
          compressed_in_episode_ms_ += MsFor(drop);
        }
        if (BufferedFrames() <= target) {
          compressing_ = false;
          // Compression discards audio (total_dropped does not count it): say how much.
          if (compressed_in_episode_ms_ > 0) {
            events.Add("stream.buffer_compressed",
                       {{"compressed_ms", Ms(compressed_in_episode_ms_)},
                        {"buffer_duration_ms", Ms(MsFor(BufferedFrames()))},
                        {"target_ms", Ms(TargetDelayMs())}});
          }
          compressed_in_episode_ms_ = 0;
        }
      }
    }

    const size_t available_bytes = buffered_bytes_;
    bool ran_dry = false;
    size_t filled = 0;
    while (filled < frames) {
      char* out = frame.data.data() + filled * bytes_per_frame_;
      const size_t n = TakeContiguous(out, frames - filled, &frame.media_ms);
      if (n > 0) {
        if (concealing_) {
          concealing_ = false;
          crossfade_left_ = fade_frames_;
        }
        CrossfadeIn(out, n);
        RememberTail(out, n);
        filled += n;
        continue;
      }
      size_t m = frames - filled;
      if (!packets_.empty()) {
        const size_t nominal = std::max<size_t>(nominal_frames_, 1);
        // A gap longer than the buffer could ever hold (a sequence jump, a client's bug or a
        // hostile one) is a new stream position: moving there costs O(1), not a concealment per
        // missing chunk.
        const uint64_t gap = packets_.begin()->first - next_seq_;
        if (gap > std::max<size_t>(FramesFor(options_.max_duration_ms) / nominal, 1)) {
          stats_.lost += static_cast<int64_t>(std::min<uint64_t>(gap, INT64_MAX));
          next_seq_ = packets_.begin()->first;
          gap_concealed_frames_ = 0;
          continue;
        }
        // A gap with later audio waiting: conceal one chunk's worth, then give the chunk up.
        m = std::min(m, nominal - std::min(gap_concealed_frames_, nominal));
        gap_concealed_frames_ += m;
        if (gap_concealed_frames_ >= nominal) {
          ++stats_.lost;
          ++next_seq_;
          gap_concealed_frames_ = 0;
        }
      } else {
        ran_dry = true;  // Underrun: the audio is late; conceal and keep waiting for it.
      }
      Conceal(out, m);
      frame.concealed_ms += MsFor(m);
      filled += m;
    }

    if (ran_dry && !underrun_active_) {
      underrun_active_ = true;
      events.Add("stream.buffer_underrun",
                 {{"bytes_requested", std::to_string(frame.data.size())},
                  {"bytes_available", std::to_string(available_bytes)},
                  {"buffer_duration_ms", Ms(MsFor(available_bytes / bytes_per_frame_))}});
    } else if (!ran_dry && underrun_active_) {
      underrun_active_ = false;
      // At the read, as Stageflow reports it: what the read found.
      events.Add("stream.buffer_recovered",
                 {{"buffer_duration_ms", Ms(MsFor(available_bytes / bytes_per_frame_))}});
    }
  }
  events.EmitTo(options_.emitter);
  return frame;
}

void JitterBuffer::StartPlayout() {
  std::lock_guard<std::mutex> lock(mu_);
  if (playing_ || packets_.empty()) return;
  playing_ = true;
  next_seq_ = packets_.begin()->first;
  cursor_set_ = true;
}

size_t JitterBuffer::ContiguousFrames() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (packets_.empty()) return 0;
  uint64_t expected = cursor_set_ ? next_seq_ : packets_.begin()->first;
  size_t frames = 0;
  for (const auto& [seq, packet] : packets_) {
    if (seq != expected) break;
    frames += (packet.data.size() - packet.offset) / bytes_per_frame_;
    ++expected;
  }
  return frames;
}

void JitterBuffer::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.total_flushed += static_cast<int64_t>(buffered_bytes_);
  packets_.clear();
  buffered_bytes_ = 0;
  playing_ = false;
  compressing_ = false;
  if (any_seen_) {
    next_seq_ = max_seq_seen_ + 1;  // Stragglers from before the flush are late.
    cursor_set_ = true;
  }
  gap_concealed_frames_ = 0;
  concealing_ = false;
  crossfade_left_ = 0;
  tail_.clear();
  underrun_active_ = false;
}

JitterBufferStats JitterBuffer::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  JitterBufferStats s = stats_;
  s.bytes_buffered = buffered_bytes_;
  s.duration_ms = MsFor(BufferedFrames());
  s.is_ready = !packets_.empty() && BufferedFrames() >= FramesFor(TargetDelayMs());
  s.underrun_active = underrun_active_;
  s.target_delay_ms = TargetDelayMs();
  s.current_delay_ms = s.duration_ms;
  return s;
}

}  // namespace voxflow::streaming
