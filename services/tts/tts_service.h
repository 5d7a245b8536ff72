// The voxflow.v1.TextToSpeech gRPC service: thin handlers that map requests onto TtsSession, with
// engine work on a WorkerPool (never on gRPC's threads).
#ifndef VOXFLOW_SERVICES_TTS_TTS_SERVICE_H_
#define VOXFLOW_SERVICES_TTS_TTS_SERVICE_H_

#include "services/common/speech_stream.h"
#include "services/common/stream_reactor.h"
#include "services/common/worker_pool.h"
#include "services/tts/tts_engine.h"
#include "services/tts/tts_session.h"
#include "voxflow/v1/tts.grpc.pb.h"

namespace voxflow::tts {

struct TtsServiceOptions {
  int max_streams = 200;
  int max_streams_per_client = 0;  // 0: no per-client limit.
  size_t max_unread_bytes = 4 << 20;
  // Largest Synthesize response (the server's --max_message_bytes): longer text is refused.
  size_t max_response_bytes = 4 << 20;
  TtsLimits limits;
};

// Every method is served raw (see StreamReactor): bytes that do not parse are INVALID_ARGUMENT.
using TtsRawService = v1::TextToSpeech::WithRawCallbackMethod_StreamingSynthesize<
    v1::TextToSpeech::WithRawCallbackMethod_Synthesize<
        v1::TextToSpeech::WithRawCallbackMethod_ListVoices<v1::TextToSpeech::Service>>>;

class TtsService final : public TtsRawService {
 public:
  // `engine` and `pool` must outlive the service.
  TtsService(TtsEngine* engine, WorkerPool* pool, TtsServiceOptions options = {})
      : engine_(engine), pool_(pool), options_(options) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamingSynthesize(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Synthesize(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListVoices(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;

 private:
  TtsEngine* const engine_;
  WorkerPool* const pool_;
  const TtsServiceOptions options_;
  absl::Status Synthesize(const v1::SynthesizeClipRequest& request,
                          v1::SynthesizeClipResponse* response);

  SpeechStreams streams_{options_.max_streams, options_.max_streams_per_client, "tts"};
};

}  // namespace voxflow::tts

#endif  // VOXFLOW_SERVICES_TTS_TTS_SERVICE_H_
