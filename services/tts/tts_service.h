// The voxflow.v1.TextToSpeech gRPC service: thin handlers that map requests onto TtsSession, with
// engine work on a WorkerPool (never on gRPC's threads).
#ifndef VOXFLOW_SERVICES_TTS_TTS_SERVICE_H_
#define VOXFLOW_SERVICES_TTS_TTS_SERVICE_H_

#include <atomic>

#include "services/common/stream_reactor.h"
#include "services/common/worker_pool.h"
#include "services/tts/tts_engine.h"
#include "services/tts/tts_session.h"
#include "voxflow/v1/tts.grpc.pb.h"

namespace voxflow::tts {

struct TtsServiceOptions {
  int max_streams = 200;
  TtsLimits limits;
};

class TtsService final : public v1::TextToSpeech::CallbackService {
 public:
  // `engine` and `pool` must outlive the service.
  TtsService(TtsEngine* engine, WorkerPool* pool, TtsServiceOptions options = {})
      : engine_(engine), pool_(pool), options_(options) {}

  grpc::ServerBidiReactor<v1::SynthesizeRequest, v1::SynthesizeResponse>* StreamingSynthesize(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Synthesize(grpc::CallbackServerContext* context,
                                       const v1::SynthesizeClipRequest* request,
                                       v1::SynthesizeClipResponse* response) override;
  grpc::ServerUnaryReactor* ListVoices(grpc::CallbackServerContext* context,
                                       const v1::ListVoicesRequest* request,
                                       v1::ListVoicesResponse* response) override;

 private:
  friend class SynthesizeStream;

  TtsEngine* const engine_;
  WorkerPool* const pool_;
  const TtsServiceOptions options_;
  StreamLimit stream_limit_{options_.max_streams, "tts"};
  std::atomic<uint64_t> next_stream_id_{1};
};

}  // namespace voxflow::tts

#endif  // VOXFLOW_SERVICES_TTS_TTS_SERVICE_H_
