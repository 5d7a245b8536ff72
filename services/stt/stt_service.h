// The voxflow.v1.SpeechToText gRPC service: thin handlers over the speech-to-text providers.
#ifndef VOXFLOW_SERVICES_STT_STT_SERVICE_H_
#define VOXFLOW_SERVICES_STT_STT_SERVICE_H_

#include "voxflow/v1/stt.grpc.pb.h"

namespace voxflow::stt {

// RPCs not built yet answer UNIMPLEMENTED (the generated base class does that).
class SttService final : public v1::SpeechToText::CallbackService {};

}  // namespace voxflow::stt

#endif  // VOXFLOW_SERVICES_STT_STT_SERVICE_H_
