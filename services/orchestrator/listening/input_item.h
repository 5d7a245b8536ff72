// InputItem: one frame of the caller's input on its way from listening to the stt stage of its
// turn, or the end of its utterance. Both sides use it; neither owns it.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_INPUT_ITEM_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_INPUT_ITEM_H_

#include "absl/time/time.h"
#include "voxflow/v1/audio.pb.h"

namespace voxflow::orchestrator {

struct InputItem {
  v1::AudioChunk audio;
  bool end_of_utterance = false;
  absl::Time received;  // When it arrived from the caller.
  // Queues it waited in for another thread on its way to the stt stream: the stream's strand,
  // the ticker (audio held for a missing chunk), the stt stage's start (audio heard before it).
  int hand_overs = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_INPUT_ITEM_H_
