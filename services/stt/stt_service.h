// The voxflow.v1.SpeechToText gRPC service: thin handlers that map requests onto SttSession, with
// engine work on a WorkerPool (never on gRPC's threads).
#ifndef VOXFLOW_SERVICES_STT_STT_SERVICE_H_
#define VOXFLOW_SERVICES_STT_STT_SERVICE_H_

#include <string>

#include "services/common/speech_stream.h"
#include "services/common/stream_reactor.h"
#include "services/common/worker_pool.h"
#include "services/stt/stt_engine.h"
#include "services/stt/stt_session.h"
#include "voxflow/v1/stt.grpc.pb.h"

namespace voxflow::stt {

struct SttServiceOptions {
  int max_streams = 200;           // Concurrent StreamingRecognize calls.
  int max_streams_per_client = 0;  // 0: no per-client limit.
  size_t max_unread_bytes = 4 << 20;
  size_t max_clip_bytes = 10 * 1024 * 1024;  // Recognize's audio.
  SttLimits limits;
};

// Every method is served raw (see StreamReactor): bytes that do not parse are INVALID_ARGUMENT.
using SttRawService = v1::SpeechToText::WithRawCallbackMethod_StreamingRecognize<
    v1::SpeechToText::WithRawCallbackMethod_Recognize<v1::SpeechToText::Service>>;

class SttService final : public SttRawService {
 public:
  // `engine` and `pool` must outlive the service.
  SttService(SttEngine* engine, WorkerPool* pool, SttServiceOptions options = {})
      : engine_(engine), pool_(pool), options_(options) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamingRecognize(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Recognize(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;

 private:
  SttEngine* const engine_;
  WorkerPool* const pool_;
  const SttServiceOptions options_;
  absl::Status Recognize(const v1::RecognizeClipRequest& request,
                         v1::RecognizeClipResponse* response);

  SpeechStreams streams_{options_.max_streams, options_.max_streams_per_client, "stt"};
};

}  // namespace voxflow::stt

#endif  // VOXFLOW_SERVICES_STT_STT_SERVICE_H_
