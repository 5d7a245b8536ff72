// EchoCanceller: takes the reply's own voice out of the caller's audio. A speakerphone (or a phone
// or browser without echo cancellation) sends the reply back into the microphone 40-400 ms later;
// the server knows exactly what it sent, so it can cancel that echo itself, before voice detection
// and recognition. WebRTC's echo canceller (Debian's libwebrtc-audio-processing: AEC with the
// extended filter and delay-agnostic mode, which finds the delay itself), with the reply audio as
// sent (after pacing, before encoding) as its far end.
//
// Not thread-safe: its owner (the listener, under the session's lock) calls it.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_ECHO_CANCELLER_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_ECHO_CANCELLER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/orchestrator/listening/echo_delay.h"
#include "services/orchestrator/listening/residual_echo_suppressor.h"
#include "voxflow/v1/audio.pb.h"

namespace webrtc {
class AudioProcessing;
class AudioFrame;
}  // namespace webrtc

namespace voxflow {
class AudioConverter;
}  // namespace voxflow

namespace voxflow::orchestrator {

class EchoCanceller {
 public:
  struct Stats {
    uint64_t blocks = 0;       // 10 ms blocks of caller audio processed.
    uint64_t echo_blocks = 0;  // Of them, blocks the canceller found echo in.
    // Over the last second the reply spoke in (-100 before one): echo return loss (how far
    // under the reply the caller's audio was, the room's steady noise taken off) and echo return
    // loss enhancement (how much the canceller took off the caller's audio), in dB. Both read
    // low while the caller talks over the reply.
    double erle_db = -100;
    double erl_db = -100;
    int delay_ms = -1;  // The echo's delay as estimated (EchoDelay); -1 before the first second.
    // Cancelling (true from the start unless watching for an echo first; under AUTO on a phone
    // line, from the start until the reply has spoken a second without an echo).
    bool engaged = false;
    // The reply was found in the caller's audio (an echo); and, if not, whether it has spoken
    // long enough (1 s) for that to mean there is none.
    bool echo_found = false;
    bool no_echo = false;
    // Blocks taken for what the canceller left of the echo (up to date after every Process()).
    uint64_t suppressed_blocks = 0;

    // What it saw, as turn.stats and the metrics name it: found, none or looking.
    const char* state_name() const { return echo_found ? "found" : no_echo ? "none" : "looking"; }
  };

  // `near`: the caller's audio as heard (PCM16, MULAW or ALAW, mono, at 8, 16, 32 or 48 kHz;
  // G.711 is decoded, cleaned and encoded again); `far`: the reply audio as sent (any format the
  // converter reads). Other near formats are INVALID_ARGUMENT.
  // When it cancels: from the start (ECHO_CANCELLATION_ON), or once the reply's echo is found in
  // the caller's audio (AUTO; G.711 input, a phone line, is cancelled from the start either way).
  enum class Engage { kAlways, kOnEcho };
  static absl::StatusOr<std::unique_ptr<EchoCanceller>> Create(const v1::AudioStreamFormat& near,
                                                               const v1::AudioStreamFormat& far,
                                                               Engage engage = Engage::kAlways);
  ~EchoCanceller();

  // Reply audio as it goes out to the caller, in the far format, due to play from `starts`.
  void OnReplyPlayed(absl::string_view pcm, absl::Time starts);
  // The caller's audio, in the near format, its first sample captured about `captured`; returns
  // it with the echo removed, the same length. Whole 10 ms blocks are processed; a part of a
  // block left at the end goes through as it was.
  std::string Process(absl::string_view pcm, absl::Time captured);

  const Stats& stats() const { return stats_; }
  static bool SupportsNearFormat(const v1::AudioStreamFormat& near);

 private:
  EchoCanceller(int rate, std::unique_ptr<AudioConverter> far_converter,
                std::unique_ptr<AudioConverter> near_decoder,
                std::unique_ptr<AudioConverter> near_encoder,
                std::unique_ptr<webrtc::AudioProcessing> apm);
  std::string ProcessPcm16(std::string pcm, absl::Time captured);
  // The sample index of time `t` on the session's timeline (from the first time seen).
  int64_t IndexOf(absl::Time t);
  // One 10 ms block of the caller's audio through WebRTC's canceller, in place; `far_at(i)` is
  // the reply due at sample i of the timeline.
  template <typename FarAt>
  void Cancel(const FarAt& far_at, int16_t* near);
  // Updates echo_loss_db_ from the echo's figures just made.
  void LearnEchoLoss();

  const int rate_;
  const size_t block_samples_;
  const std::unique_ptr<AudioConverter> far_converter_;  // Null: the far end is already as near.
  // G.711 near audio to PCM16 and back (same rate, sample for sample); null for PCM16.
  const std::unique_ptr<AudioConverter> near_decoder_, near_encoder_;
  std::unique_ptr<webrtc::AudioProcessing> apm_;  // Null while watching for an echo.
  bool watching_ = false;                         // AUTO: cancels only while an echo may be there.
  const std::unique_ptr<webrtc::AudioFrame> frame_;
  // Both sides on one timeline, in samples: the reply by when it is due to play, the caller's
  // audio by when it was captured. A block of the caller's audio is paired with the reply due at
  // the same moment, whatever the jitter of either stream; the echo's own delay is EchoDelay's.
  absl::Time origin_ = absl::InfinitePast();
  std::deque<int16_t> far_;  // Reply audio from far_first_ on, not yet paired.
  int64_t far_first_ = 0;
  int64_t near_index_ = -1;  // Where the next block of caller audio is; -1 before the first.
  EchoDelay delay_;
  NoiseFloor noise_;
  ResidualEchoSuppressor suppressor_;
  std::vector<int16_t> reply_due_;      // The reply due at the block being processed.
  std::vector<int16_t> shifted_reply_;  // Cancel()'s far block, kept to spare an allocation.
  Stats stats_;
  uint64_t metrics_at_ = 0;        // stats_.blocks when the canceller's figures were last read.
  int cancelled_echo_blocks_ = 0;  // Blocks of echo the canceller had its reply for.
  // How far under the reply its echo is once cancelled, as learnt; negative while unknown.
  double echo_loss_db_ = -1;
  // Energies over the blocks whose echo source played, since the figures were last made: the
  // echo source (the reply at the echo's delay), the caller's audio, and the canceller's output.
  struct Measured {
    int blocks = 0;
    double far = 0, near = 0, out = 0;
  } measured_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_ECHO_CANCELLER_H_
