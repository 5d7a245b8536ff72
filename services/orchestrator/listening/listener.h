// Listener: hears the caller. Owns the input jitter buffer, the voice activity detector, the
// utterance segmenter, the barge-in detector, the leading silence kept before an utterance and the
// byte accounting. Frames go in; what they mean comes out through ListenerHooks: an utterance
// started (speech confirmed, or declared by END_OF_INPUT), an utterance ended, voice over a reply
// (pause, resume, interrupt).
//
// Every input frame goes to exactly one utterance, in order, or (silence before speech, beyond
// leading_silence_ms, or at hang-up) is counted and let go: the next utterance starts with the
// frame after the last one's end. Not thread-safe: its owner's lock guards it, and the hooks are
// called under it. Readers of an utterance are not woken under that lock (their stage writes to
// its backend): the owner wakes them with WakeReaders once it has released it.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_LISTENER_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_LISTENER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/streaming/jitter_buffer.h"
#include "services/orchestrator/listening/barge_in_detector.h"
#include "services/orchestrator/listening/echo_canceller.h"
#include "services/orchestrator/listening/echo_delay.h"
#include "services/orchestrator/listening/echo_guard.h"
#include "services/orchestrator/listening/input_item.h"
#include "services/orchestrator/listening/utterance.h"
#include "services/orchestrator/listening/utterance_segmenter.h"
#include "services/orchestrator/listening/voice_activity_detector.h"
#include "voxflow/v1/audio.pb.h"

namespace voxflow::orchestrator {

// Where the input went, in bytes of the input format: every byte pushed is in exactly one
// utterance or in the silence let go between them (the invariant the tests count).
struct InputAccounting {
  uint64_t pushed = 0;           // Read out of the input jitter buffer.
  uint64_t in_utterances = 0;    // Appended to an utterance (each goes to one stt stage).
  uint64_t silence_dropped = 0;  // Silence before an utterance, beyond leading_silence_ms.
  uint64_t pending = 0;          // Held for the next utterance.
  int utterances = 0;
};

// What the listener tells its owner, under the owner's lock.
class ListenerHooks {
 public:
  virtual ~ListenerHooks() = default;

  // An utterance begins: `utterance` holds its audio so far and takes the rest. The speech
  // began at `speech_began` (when its first voiced frame arrived), at `stream_ms` of the input.
  virtual void OnUtteranceStarted(std::shared_ptr<Utterance> utterance, absl::Time speech_began,
                                  int64_t stream_ms) = 0;
  // The open utterance is over (declared at `declared`); its speech ended at `end_of_speech`
  // (when its last voiced frame arrived), at `stream_ms` of the input.
  virtual void OnUtteranceEnded(absl::Time end_of_speech, absl::Time declared,
                                int64_t stream_ms) = 0;
  // Voice over the reply: pause it, resume it, or interrupt it.
  virtual void OnVoiceOverReply(BargeInDetector::Action action) = 0;
  // Whether reply audio is playing now (voice over it is a barge-in).
  virtual bool ReplyPlaying() const = 0;
};

class Listener {
 public:
  enum class EndReason { kEndpoint, kEndOfInput, kHalfClose, kRecognizer };

  struct Options {
    int frame_ms = 20;
    // Silence before an utterance's speech kept with it (the recognizer hears the onset the
    // detector may have missed); older silence is counted and let go.
    int leading_silence_ms = 1000;
    // How long a missing chunk is waited for before its gap is concealed.
    int input_target_ms = 40;
  };

  // `format`: the input as heard (PCM16); `hooks` outlives the listener.
  Listener(Options options, v1::AudioStreamFormat format,
           std::unique_ptr<streaming::JitterBuffer> input,
           std::unique_ptr<VoiceActivityDetector> vad, EndpointingSettings endpointing,
           BargeInSettings barge_in, ListenerHooks* hooks);

  // Caller audio (in `format`), then whatever it makes ready is heard. Chunks without sequence
  // numbers are taken in arrival order. `hand_overs`: queues the chunk waited in so far.
  absl::Status Push(v1::AudioChunk chunk, absl::Time now, int hand_overs);
  // Hears the frames the input buffer has ready (`all`: everything it holds, as at the end of
  // input), or held for a missing chunk past the target delay.
  void Drain(bool all, absl::Time now, int hand_overs);
  // Ends the open utterance (END_OF_INPUT, the client's half-close, the recognizer's endpoint or
  // its turn giving up) and starts listening for the next one.
  void EndUtterance(EndReason reason, absl::Time now);
  // Takes the reply's echo out of the caller's audio from now on, ahead of the detector and the
  // recognizer (null: no echo cancellation).
  void UseEchoCanceller(std::unique_ptr<EchoCanceller> echo) { echo_ = std::move(echo); }
  // Reply audio as it went out to the caller (PCM16 in the output format), due from `starts`.
  void OnReplyPlayed(absl::string_view pcm, absl::Time starts);
  // A frame of the reply speaking `text` went out, due to play from `starts` for `ms`.
  void OnReplySpoken(absl::string_view text, absl::Time starts, double ms) {
    guard_.OnReplySent(text, starts, ms);
  }
  const EchoCanceller* echo_canceller() const { return echo_.get(); }
  // Whether `transcript`, of speech that began at `speech_began`, is the reply's own words come
  // back (EchoGuard). Asked only where the echo canceller found an echo in the caller's audio: a
  // caller without one who repeats the reply's words is the caller.
  bool IsEchoOfReply(absl::string_view transcript, absl::Time speech_began) const;
  // The recognizer heard `transcript` of the open utterance so far: barge-in counts its words,
  // the reply's echo in them not.
  void OnWords(absl::string_view transcript);
  // The reply ended or was interrupted: barge-in forgets its pause.
  void ResetBargeIn() { barge_in_.Reset(); }

  // Wakes the stt readers of the utterances appended to or ended since the last call. Call
  // without the owner's lock.
  static void WakeReaders(std::vector<std::shared_ptr<Utterance>> utterances);
  std::vector<std::shared_ptr<Utterance>> TakeReadersToWake();

  bool utterance_open() const { return open_ != nullptr; }
  // The detector's unvoiced time since its last voiced frame (0 while voice is heard).
  double unvoiced_run_ms() const { return unvoiced_run_ms_; }
  double stream_ms() const { return stream_ms_; }
  // The room's steady noise in the caller's audio as heard (after echo cancellation): the
  // quietest 100 ms of the last 5 s, in dBFS (-100 for digital silence or before 100 ms).
  double noise_floor_dbfs() const;
  const InputAccounting& accounting() const { return accounting_; }
  streaming::JitterBufferStats input_stats() const { return input_->stats(); }

 private:
  void Hear(InputItem item, absl::Time now);
  // Feeds the noise floor; returns the frame's loudest 10 ms block energy.
  double MeasureNoiseFloor(absl::string_view pcm);
  void StartUtterance(absl::Time now);
  void Apply(BargeInDetector::Action action);
  void WakeLater(const std::shared_ptr<Utterance>& utterance);

  const Options options_;
  const v1::AudioStreamFormat format_;
  const std::unique_ptr<streaming::JitterBuffer> input_;
  const std::unique_ptr<VoiceActivityDetector> vad_;
  std::unique_ptr<EchoCanceller> echo_;
  UtteranceSegmenter segmenter_;
  BargeInDetector barge_in_;
  ListenerHooks* const hooks_;
  const double bytes_per_ms_;
  static constexpr double kOverFloor = 4;     // 6 dB.
  static constexpr double kMinOverFloor = 2;  // 3 dB.
  double speech_margin_ = kOverFloor;         // Over the floor, for the current speech.
  static constexpr int kFloorHeardMs = 500;
  double speech_floor_ = 0;       // The room's floor when the current speech began.
  bool floor_known_ = false;      // The room had been heard long enough when it began.
  bool sounding_speech_ = false;  // The last frame was sound in a run from a voiced frame.
  absl::Time last_voiced_in_sound_ = absl::InfinitePast();  // The last voiced one.
  static constexpr absl::Duration kTrailingSound = absl::Milliseconds(200);
  const size_t block_samples_;  // 10 ms, all channels.
  const double min_floor_;      // A 10 ms block's energy at -70 dBFS.
  NoiseFloor noise_floor_;
  EchoGuard guard_;
  absl::Time open_began_ = absl::InfinitePast();  // When the open utterance's speech began.

  uint64_t arrival_counter_ = 0;
  bool client_sequences_ = false;
  uint64_t input_sequence_ = 0;
  double stream_ms_ = 0;  // Input heard so far.
  double unvoiced_run_ms_ = 0;
  std::deque<InputItem> leading_;  // The next utterance's audio, before it starts.
  std::shared_ptr<Utterance> open_;
  // Arrival of the first and the last voiced frame since the last utterance ended.
  absl::Time first_voiced_ = absl::InfinitePast();
  absl::Time last_voiced_ = absl::InfinitePast();
  InputAccounting accounting_;
  std::vector<std::shared_ptr<Utterance>> to_wake_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_LISTENER_H_
