#include "services/orchestrator/listening/listener.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "services/common/audio_chunk.h"
#include "services/orchestrator/listening/residual_echo_suppressor.h"

namespace voxflow::orchestrator {

Listener::Listener(Options options, v1::AudioStreamFormat format,
                   std::unique_ptr<streaming::JitterBuffer> input,
                   std::unique_ptr<VoiceActivityDetector> vad, EndpointingSettings endpointing,
                   BargeInSettings barge_in, ListenerHooks* hooks)
    : options_(options),
      format_(std::move(format)),
      input_(std::move(input)),
      vad_(std::move(vad)),
      segmenter_(endpointing),
      barge_in_(barge_in),
      hooks_(hooks),
      bytes_per_ms_(static_cast<double>(*BytesForDuration(1000, format_)) / 1000.0),
      block_samples_(static_cast<size_t>(bytes_per_ms_ * 10 / 2)),
      min_floor_(static_cast<double>(block_samples_) * 32768.0 * 32768.0 * 1e-7) {}

absl::Status Listener::Push(v1::AudioChunk chunk, absl::Time now, int hand_overs) {
  if (chunk.sequence() != 0) client_sequences_ = true;
  if (!client_sequences_) chunk.set_sequence(arrival_counter_);
  ++arrival_counter_;
  if (absl::Status s = input_->Push(std::move(chunk), now); !s.ok()) return s;
  Drain(/*all=*/false, now, hand_overs);
  return absl::OkStatus();
}

void Listener::Drain(bool all, absl::Time now, int hand_overs) {
  const double frame_ms = options_.frame_ms;
  const size_t bytes_per_frame = static_cast<size_t>(*BytesPerFrame(format_));
  const size_t frame_frames = *BytesForDuration(frame_ms, format_) / bytes_per_frame;
  if (all) input_->StartPlayout();
  while (true) {
    const streaming::JitterBufferStats stats = input_->stats();
    streaming::PlayoutFrame frame;
    if (all) {
      if (stats.bytes_buffered == 0) break;
      frame = input_->ReadFrames(std::min(frame_frames, stats.bytes_buffered / bytes_per_frame));
    } else if (input_->ContiguousFrames() >= frame_frames) {
      // In-order audio is heard at once: pacing it to a playout cadence would only add delay.
      // The target delay bounds how long a missing chunk is waited for; after that the read
      // conceals the gap and moves on.
      input_->StartPlayout();
      frame = input_->ReadFrames(frame_frames);
    } else if (stats.duration_ms >= options_.input_target_ms + frame_ms) {
      frame = input_->Read(frame_ms);
    } else {
      break;
    }
    if (frame.prebuffering || frame.data.empty()) break;
    InputItem item;
    item.audio.set_data(std::move(frame.data));
    item.audio.set_format(format_.format());
    item.audio.set_sample_rate(format_.sample_rate());
    item.audio.set_channels(format_.channels());
    item.audio.set_sequence(input_sequence_++);
    item.audio.set_timestamp_ms(frame.media_ms);
    item.received = now;
    item.hand_overs = hand_overs;
    Hear(std::move(item), now);
  }
}

void Listener::OnReplyPlayed(absl::string_view pcm, absl::Time starts) {
  if (echo_ != nullptr) echo_->OnReplyPlayed(pcm, starts);
}

void Listener::Hear(InputItem item, absl::Time now) {
  bool echo_suppressed = false;  // Some of the frame was taken for the reply's echo.
  if (echo_ != nullptr) {
    // Captured one frame before it arrived, give or take the network.
    const absl::Duration frame = absl::Milliseconds(item.audio.data().size() / bytes_per_ms_);
    const uint64_t suppressed = echo_->stats().suppressed_blocks;
    *item.audio.mutable_data() = echo_->Process(item.audio.data(), item.received - frame);
    echo_suppressed = echo_->stats().suppressed_blocks > suppressed;
  }
  const double frame_energy = MeasureNoiseFloor(item.audio.data());
  const size_t bytes = item.audio.data().size();
  const double ms = bytes / bytes_per_ms_;
  const auto start_ms = static_cast<int64_t>(stream_ms_);
  stream_ms_ += ms;
  const bool voiced = vad_->IsSpeech(item.audio.data());
  // The end of speech (what voice-to-voice is measured from, and silence_ms runs from) is the
  // last frame with sound over the room as it was before the speech began (3 to 6 dB, below), in
  // an unbroken run from a voiced one: a detector holds its decision for a while after the voice
  // stops (the noise-robust one up to 150 ms), and in a noisy room those frames are the room; and
  // it may not call a last consonant speech (no pitch in a final "s"), which the caller hears as
  // speech all the same (up to 200 ms of it: a noisy room's own swells are not speech). (No floor
  // before the speech, as when a call opens with it: every voiced frame counts, and only those. The
  // floor is trusted after 500 ms of the room: over 200 ms its quietest 100 ms could hold a
  // question's onset, which put the floor of a call opening with speech 4.5 dB over the room's and
  // the question under it.)
  if (voiced && first_voiced_ == absl::InfinitePast()) {
    floor_known_ = noise_floor_.heard_ms() >= kFloorHeardMs;
    speech_floor_ = floor_known_ ? noise_floor_.quietest_block_energy() : 0;
    // Over the room means over what the room itself reaches: 3 dB in steady noise (white noise
    // rises ~1 dB over its mean; at 5 dB SNR much of a caller's voice is not 6 dB over it), up to
    // 6 dB in a room that swells (brown noise, a car).
    speech_margin_ = std::clamp(1.25 * noise_floor_.swing(), kMinOverFloor, kOverFloor);
    first_voiced_ = now;
  }
  // Sound is also over -70 dBFS + 6 dB: an echo canceller's output or a digital line is silent
  // but for a few bits, which are not speech either.
  const bool sounding =
      frame_energy > std::max(speech_margin_ * speech_floor_, kOverFloor * min_floor_);
  // A last consonant runs on only while 6 dB over the room: at 3 dB a steady room's own ripples
  // carried the end of speech on.
  const bool trailing = frame_energy > kOverFloor * std::max(speech_floor_, min_floor_) &&
                        sounding_speech_ && floor_known_ &&
                        now - last_voiced_in_sound_ <= kTrailingSound;
  sounding_speech_ = first_voiced_ != absl::InfinitePast() && (voiced ? sounding : trailing);
  if (voiced && sounding_speech_) last_voiced_in_sound_ = now;
  if (sounding_speech_ || (voiced && last_voiced_ == absl::InfinitePast())) last_voiced_ = now;
  unvoiced_run_ms_ = voiced ? 0 : unvoiced_run_ms_ + ms;
  // While the reply stands paused for the caller's voice, the echo of what it played before the
  // pause is still coming back (up to 500 ms), and the suppressor turns down whatever could be
  // that echo: a caller quieter than the reply is then not heard, but not gone either. Those
  // frames are neither speech nor silence: they end neither the speech nor the pause (measured:
  // the gateway's phone call under AUTO took them for a gap, resumed the reply, and heard the
  // caller's barge-in only on their next words, or never).
  const bool masked = echo_suppressed && !voiced && barge_in_.paused();
  // silence_ms runs from the end of speech too, not from the end of the detector's hold: the
  // hold would add its length (150 ms for the noise-robust detector) to every turn.
  const UtteranceSegmenter::Events events =
      masked ? UtteranceSegmenter::Events{}
             : segmenter_.Push(start_ms, ms, voiced, sounding, sounding_speech_);
  if (events.false_start) first_voiced_ = last_voiced_ = absl::InfinitePast();  // Not speech.
  accounting_.pushed += bytes;

  if (open_ != nullptr) {
    accounting_.in_utterances += bytes;
    open_->Append(std::move(item), Utterance::Wake::kLater);
    WakeLater(open_);
  } else {
    accounting_.pending += bytes;
    leading_.push_back(std::move(item));
    // Before speech, keep only the last leading_silence_ms (`pending` is what leading_ holds):
    // older silence goes nowhere.
    while (segmenter_.phase() == UtteranceSegmenter::Phase::kSilence && leading_.size() > 1 &&
           (accounting_.pending - leading_.front().audio.data().size()) / bytes_per_ms_ >=
               options_.leading_silence_ms) {
      const size_t dropped = leading_.front().audio.data().size();
      accounting_.pending -= dropped;
      accounting_.silence_dropped += dropped;
      leading_.pop_front();
    }
  }
  if (events.confirmed && open_ == nullptr) StartUtterance(now);
  Apply(barge_in_.OnFrame(events, static_cast<int64_t>(stream_ms_), ms, voiced,
                          hooks_->ReplyPlaying(), sounding, masked));
  if (events.ended) EndUtterance(EndReason::kEndpoint, now);
}

double Listener::MeasureNoiseFloor(absl::string_view pcm) {
  const auto* samples = reinterpret_cast<const int16_t*>(pcm.data());
  const size_t count = pcm.size() / 2;
  double loudest = 0;
  for (size_t at = 0; block_samples_ > 0 && at + block_samples_ <= count; at += block_samples_) {
    const double energy = BlockEnergy(samples + at, block_samples_);
    noise_floor_.Push(energy);
    loudest = std::max(loudest, energy);
  }
  return loudest;
}

double Listener::noise_floor_dbfs() const {
  const double mean_square =
      noise_floor_.quietest_block_energy() / std::max<size_t>(block_samples_, 1);
  return std::max(-100.0, 10 * std::log10(mean_square / (32768.0 * 32768.0) + 1e-12));
}

void Listener::StartUtterance(absl::Time now) {
  auto utterance = std::make_shared<Utterance>(++accounting_.utterances);
  for (InputItem& item : leading_) {
    accounting_.pending -= item.audio.data().size();
    accounting_.in_utterances += item.audio.data().size();
    utterance->Append(std::move(item), Utterance::Wake::kLater);
  }
  leading_.clear();
  open_ = utterance;
  // Where the speech began; an utterance END_OF_INPUT made of sound that was not speech begins
  // where it was declared.
  const bool heard = segmenter_.phase() != UtteranceSegmenter::Phase::kSilence;
  open_began_ = std::min(now, first_voiced_ == absl::InfinitePast() ? now : first_voiced_);
  hooks_->OnUtteranceStarted(
      std::move(utterance), open_began_,
      heard ? segmenter_.speech_start_ms() : static_cast<int64_t>(stream_ms_));
}

void Listener::EndUtterance(EndReason reason, absl::Time now) {
  if (open_ == nullptr && !leading_.empty()) {
    // END_OF_INPUT says "that was an utterance" even when the detector heard no speech (a
    // push-to-talk client decides for itself); a half-close only while speech is going on.
    const bool speaking = segmenter_.phase() != UtteranceSegmenter::Phase::kSilence;
    if (reason == EndReason::kEndOfInput || (reason == EndReason::kHalfClose && speaking)) {
      StartUtterance(now);
    } else if (reason == EndReason::kHalfClose) {
      for (const InputItem& item : leading_) {  // Trailing silence: no utterance follows.
        accounting_.pending -= item.audio.data().size();
        accounting_.silence_dropped += item.audio.data().size();
      }
      leading_.clear();
    }
  }
  segmenter_.Reset();
  const absl::Time last_voiced = last_voiced_;
  first_voiced_ = last_voiced_ = absl::InfinitePast();  // The next utterance's is yet to come.
  if (open_ == nullptr) return;
  std::shared_ptr<Utterance> utterance = std::move(open_);
  open_ = nullptr;
  utterance->End(now, Utterance::Wake::kLater);
  WakeLater(utterance);
  // End of speech is when the caller's last voiced audio arrived; without any (END_OF_INPUT after
  // sound the detector did not take for speech), when the utterance was declared over.
  const bool voiced = last_voiced != absl::InfinitePast();
  hooks_->OnUtteranceEnded(voiced ? last_voiced : now, now,
                           voiced ? segmenter_.speech_end_ms() : static_cast<int64_t>(stream_ms_));
  Apply(barge_in_.OnFrame({.ended = true}, static_cast<int64_t>(stream_ms_), 0, false,
                          hooks_->ReplyPlaying()));
}

bool Listener::IsEchoOfReply(absl::string_view transcript, absl::Time speech_began) const {
  return echo_ != nullptr && echo_->stats().echo_found && guard_.IsEcho(transcript, speech_began);
}

void Listener::OnWords(absl::string_view transcript) {
  const int words = echo_ != nullptr && echo_->stats().echo_found
                        ? guard_.CallerWords(transcript, open_began_)
                        : static_cast<int>(EchoGuard::Words(transcript).size());
  Apply(barge_in_.OnWords(words));
}

void Listener::Apply(BargeInDetector::Action action) {
  if (action != BargeInDetector::Action::kNone) hooks_->OnVoiceOverReply(action);
}

void Listener::WakeLater(const std::shared_ptr<Utterance>& utterance) {
  if (to_wake_.empty() || to_wake_.back() != utterance) to_wake_.push_back(utterance);
}

std::vector<std::shared_ptr<Utterance>> Listener::TakeReadersToWake() {
  return std::exchange(to_wake_, {});
}

void Listener::WakeReaders(std::vector<std::shared_ptr<Utterance>> utterances) {
  for (const std::shared_ptr<Utterance>& utterance : utterances) utterance->WakeReader();
}

}  // namespace voxflow::orchestrator
