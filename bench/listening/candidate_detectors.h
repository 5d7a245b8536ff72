// The voice activity detectors bench/listening compares: today's (WebRTC's GMM), the noise-robust
// detector and its parts alone, and speexdsp's preprocessor. Each hears 16 kHz mono PCM16.
#ifndef VOXFLOW_BENCH_LISTENING_CANDIDATE_DETECTORS_H_
#define VOXFLOW_BENCH_LISTENING_CANDIDATE_DETECTORS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "services/orchestrator/listening/voice_activity_detector.h"

namespace voxflow::bench {

using CandidateFactory = std::function<std::unique_ptr<orchestrator::VoiceActivityDetector>()>;

struct Candidate {
  std::string name;
  std::string description;
  CandidateFactory make;
};

// `robust`: the settings of the candidate named "robust" (the others vary the defaults).
std::vector<Candidate> AllCandidates(const orchestrator::NoiseRobustVadOptions& robust = {});

}  // namespace voxflow::bench

#endif  // VOXFLOW_BENCH_LISTENING_CANDIDATE_DETECTORS_H_
