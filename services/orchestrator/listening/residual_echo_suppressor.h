// ResidualEchoSuppressor: what the echo canceller leaves of the reply's echo is not the caller.
// The canceller needs a second or two of reply to learn the echo's path, and even then leaves a
// residue that a recognizer hears as words ("you said"), so the agent would answer itself. A
// 10 ms block of cleaned caller audio no louder than the reply played in the last 500 ms could
// make it after the echo's loss (Geigel's double-talk rule, with the loss the canceller has
// measured once it has) is taken for echo and turned down, so neither the voice detector nor the
// recognizer hears it; a caller speaking over the reply is louder than that and goes through.
//
// Pure arithmetic on blocks, no clock; not thread-safe (its owner, the echo canceller, calls it).
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_RESIDUAL_ECHO_SUPPRESSOR_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_RESIDUAL_ECHO_SUPPRESSOR_H_

#include <cstddef>
#include <cstdint>
#include <deque>

namespace voxflow::orchestrator {

class ResidualEchoSuppressor {
 public:
  // The least loss an echo is assumed to have before the canceller has measured it: a
  // speakerphone's echo comes back at least 6 dB under the reply.
  static constexpr double kMinEchoLossDb = 6;
  // How far under the reply a caller may speak over it and still be heard once the canceller has
  // converged (its measured loss, less this margin, capped here).
  static constexpr double kMaxEchoLossDb = 20;
  static constexpr double kMarginDb = 10;
  // The echo is not cancelled at all yet (a canceller watching for it): anything no louder than
  // the reply itself could be its echo.
  static constexpr double kUncancelled = -2;
  // A loss this large is no echo at all: nothing is suppressed.
  static constexpr double kNoEchoDb = 100;
  // How much an echo block is turned down.
  static constexpr double kSuppressionDb = 30;

  // One 10 ms block: `far`, the reply due to play at the block's moment (before its echo's
  // delay); `near`, the caller's audio with the canceller's estimate of the echo taken off, turned
  // down in place when it is echo. `echo_loss_db`: how far under the reply its echo comes back
  // after cancellation, as measured (ERL + ERLE), -1 while unknown, kUncancelled or kNoEchoDb.
  // Returns true when the block was taken for echo.
  bool Process(const int16_t* far, int16_t* near, size_t samples, double echo_loss_db);

  uint64_t suppressed_blocks() const { return suppressed_blocks_; }

 private:
  static constexpr size_t kWindowBlocks = 50;  // 500 ms: the longest echo delay handled.
  // Below this (-60 dBFS) the reply is silent: nothing to suppress.
  static constexpr double kSilentDb = 30.3;

  std::deque<float> far_db_;  // The reply's level, block by block, over the last 500 ms.
  uint64_t suppressed_blocks_ = 0;
};

// The energy (sum of squares) of a block of PCM16 samples.
double BlockEnergy(const int16_t* block, size_t samples);
// The level of a block of PCM16 samples in dB over one unit (0 for silence; 90.3 at full scale).
float BlockDb(const int16_t* block, size_t samples);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_RESIDUAL_ECHO_SUPPRESSOR_H_
