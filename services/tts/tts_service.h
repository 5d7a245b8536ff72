// The voxflow.v1.TextToSpeech gRPC service: thin handlers over the text-to-speech providers.
#ifndef VOXFLOW_SERVICES_TTS_TTS_SERVICE_H_
#define VOXFLOW_SERVICES_TTS_TTS_SERVICE_H_

#include "voxflow/v1/tts.grpc.pb.h"

namespace voxflow::tts {

// RPCs not built yet answer UNIMPLEMENTED (the generated base class does that).
class TtsService final : public v1::TextToSpeech::CallbackService {};

}  // namespace voxflow::tts

#endif  // VOXFLOW_SERVICES_TTS_TTS_SERVICE_H_
