// EchoDelay: how much later the reply comes back in the caller's audio, and NoiseFloor: the
// room's steady noise in it. The echo canceller's two measurements of the caller's audio against
// the reply; pure arithmetic on 10 ms blocks, no clock, not thread-safe.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_ECHO_DELAY_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_ECHO_DELAY_H_

#include <cstddef>
#include <cstdint>
#include <deque>

namespace voxflow::orchestrator {

// How much later the reply comes back in the caller's audio: the delay that best lines up the
// energy envelopes (10 ms blocks) of the reply sent and the caller's audio, 0..500 ms, looked for
// over the last 3 s (from 1.5 s in, once the reply has spoken 300 ms of it): every 100 ms until a
// first estimate, then every half second. Pure arithmetic, no clock.
class EchoDelay {
 public:
  // One 10 ms block of each: the reply paired with this moment, and the caller's audio.
  void Push(const int16_t* far, const int16_t* near, size_t samples);
  // The estimate in ms (0 until the first confident one).
  int delay_ms() const { return delay_blocks_ * 10; }
  // How well the envelopes lined up at that delay (normalized correlation, 0..1).
  double confidence() const { return confidence_; }
  // Whether a confident estimate was made yet.
  bool found() const { return found_; }
  // Whether the echo was looked for over a second of reply yet, whatever was found.
  bool looked() const { return looked_; }

 private:
  static constexpr size_t kWindow = 300;     // Blocks compared: 3 s.
  static constexpr size_t kMinWindow = 100;  // The first estimate, after 1.5 s of both.
  static constexpr size_t kMaxDelay = 50;    // Blocks: 500 ms.
  static constexpr size_t kEvery = 50;       // Blocks between estimates.
  static constexpr size_t kEveryUntilFound = 10;
  // An estimate needs the reply to have spoken (a block over -50 dBFS) for 300 ms of the window.
  static constexpr long kMinSpokeBlocks = 30;
  static constexpr long kLookedSpokeBlocks = 100;
  static constexpr float kSpeakingDb = 40.3f;
  static constexpr double kConfident = 0.5;
  void Estimate();

  std::deque<float> far_db_, near_db_;
  size_t since_estimate_ = 0;
  int delay_blocks_ = 0;
  double confidence_ = 0;
  bool found_ = false;
  int candidate_blocks_ = -100;  // The last confident estimate.
  bool looked_ = false;
};

// The room's steady noise in the caller's audio: the quietest 100 ms of the last 5 s, as a 10 ms
// block's energy. Pure arithmetic, no clock.
class NoiseFloor {
 public:
  // One 10 ms block's energy (sum of squares).
  void Push(double block_energy);
  // The floor, a little over the quietest 100 ms (1 dB: windows of steady noise vary that much).
  double block_energy() const { return 1.25 * quietest_block_energy(); }
  // The quietest 100 ms's mean block energy (0 before the first 100 ms).
  double quietest_block_energy() const;
  // How far the room's own sound rises over its mean: the median, over the 100 ms windows, of
  // the loudest block's energy over the window's mean (1 before the first 100 ms). About 1.3 in
  // white noise, more in noise with low-frequency swells (brown, a car).
  double swing() const;
  // How much audio the floor was taken over, in ms (up to 5 s).
  int heard_ms() const { return static_cast<int>(windows_.size()) * kBlocksPerWindow * 10; }

 private:
  struct Window {
    double mean;     // Mean block energy of the 100 ms.
    double loudest;  // Its loudest block's energy.
  };
  static constexpr int kBlocksPerWindow = 10;
  static constexpr size_t kWindows = 50;
  std::deque<Window> windows_;
  double sum_ = 0;
  double loudest_ = 0;
  int blocks_ = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_ECHO_DELAY_H_
