// Speakerphone: a caller whose microphone hears the reply. The reply audio the client receives
// plays out at real time from its arrival (as a client's player would) and comes back into the
// microphone `delay_ms` later, `loss_db` down, with one reflection, over a quiet room (-65 dBFS),
// with the caller's own voice on top. Drives a Microphone in 20 ms steps: 16 kHz mono PCM16 in
// and out (the session's input and output format).
#ifndef VOXFLOW_TESTS_UTIL_SPEAKERPHONE_H_
#define VOXFLOW_TESTS_UTIL_SPEAKERPHONE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>

#include "absl/time/time.h"
#include "tests/util/converse_client.h"
#include "tests/util/microphone.h"
#include "tests/util/room_audio.h"

namespace voxflow::testing {

// The speaker's side: the reply audio the client receives plays out at real time from its arrival
// and comes back `delay_ms` later, `loss_db` down, with one reflection, over a quiet room (-65
// dBFS). Also a Microphone::Room, for a microphone whose caller is scripted in clips.
class SpeakerEcho {
 public:
  SpeakerEcho(ConverseClient& client, int delay_ms, double loss_db, uint32_t seed);

  // Adds the next `piece.size()` samples of echo and room to `piece` (16 kHz).
  void AddTo(Samples& piece);
  // The same on a PCM16 chunk.
  void AddTo(std::string& pcm16);
  // Reply audio played so far, in ms.
  double played_ms() const { return played_samples_ / 16.0; }

 private:
  void TakeReplyAudio();

  ConverseClient& client_;
  const size_t delay_;
  const float gain_;
  std::mt19937 rng_;
  std::normal_distribution<float> room_;
  size_t next_event_ = 0;
  std::deque<float> to_play_;  // Reply audio received, not yet played.
  std::deque<float> played_;   // What the speaker played, the last delay + reflection of it.
  uint64_t played_samples_ = 0;
};

class Speakerphone {
 public:
  Speakerphone(ConverseClient& client, Microphone& mic, int delay_ms, double loss_db,
               uint32_t seed);

  // The caller says `voice` (16 kHz samples) over whatever the speaker plays.
  void Say(const Samples& voice);
  // The caller is silent (the speaker still plays) until `done()` holds; false at the deadline.
  bool ListenUntil(const std::function<bool()>& done, absl::Duration timeout);
  // Reply audio played so far, in ms.
  double played_ms() const { return echo_.played_ms(); }

 private:
  static constexpr size_t kStep = 320;  // 20 ms at 16 kHz.
  void Step(const float* voice);

  Microphone& mic_;
  SpeakerEcho echo_;
};

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_SPEAKERPHONE_H_
