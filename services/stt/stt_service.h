// The voxflow.v1.SpeechToText gRPC service: thin handlers that map requests onto SttSession, with
// engine work on a WorkerPool (never on gRPC's threads).
#ifndef VOXFLOW_SERVICES_STT_STT_SERVICE_H_
#define VOXFLOW_SERVICES_STT_STT_SERVICE_H_

#include <atomic>
#include <string>

#include "services/common/stream_reactor.h"
#include "services/common/worker_pool.h"
#include "services/stt/stt_engine.h"
#include "services/stt/stt_session.h"
#include "voxflow/v1/stt.grpc.pb.h"

namespace voxflow::stt {

struct SttServiceOptions {
  int max_streams = 200;                     // Concurrent StreamingRecognize calls.
  size_t max_clip_bytes = 10 * 1024 * 1024;  // Recognize's audio.
  SttLimits limits;
};

class SttService final : public v1::SpeechToText::CallbackService {
 public:
  // `engine` and `pool` must outlive the service.
  SttService(SttEngine* engine, WorkerPool* pool, SttServiceOptions options = {})
      : engine_(engine), pool_(pool), options_(options) {}

  grpc::ServerBidiReactor<v1::RecognizeRequest, v1::RecognizeResponse>* StreamingRecognize(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Recognize(grpc::CallbackServerContext* context,
                                      const v1::RecognizeClipRequest* request,
                                      v1::RecognizeClipResponse* response) override;

 private:
  friend class RecognizeStream;

  SttEngine* const engine_;
  WorkerPool* const pool_;
  const SttServiceOptions options_;
  StreamLimit stream_limit_{options_.max_streams, "stt"};
  std::atomic<uint64_t> next_stream_id_{1};
};

}  // namespace voxflow::stt

#endif  // VOXFLOW_SERVICES_STT_STT_SERVICE_H_
