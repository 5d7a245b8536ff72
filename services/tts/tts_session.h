// TtsSession: one synthesis stream's logic, independent of gRPC and of the engine. Text arrives in
// pieces (an LLM's reply); each complete sentence is queued as soon as it is complete and rendered
// in order, one at a time, converted to the requested format, and sent out in chunks of the
// requested duration, each tagged with the sentence it speaks and the provider that spoke it. An
// engine that renders here does so on the caller's thread (a worker, never a gRPC thread); one
// that waits on a server (RenderAsync) renders on its own, and no thread waits for it.
#ifndef VOXFLOW_SERVICES_TTS_TTS_SESSION_H_
#define VOXFLOW_SERVICES_TTS_TTS_SESSION_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/opus_codec.h"
#include "services/tts/tts_engine.h"
#include "voxflow/v1/tts.pb.h"

namespace voxflow::tts {

struct TtsLimits {
  size_t max_piece_bytes = 4096;     // One TextPiece.
  size_t max_stream_bytes = 100000;  // All text on one stream.
  size_t max_sentence_bytes = 300;   // Longer runs are split at a space.
  int min_chunk_ms = 10;
  int max_chunk_ms = 1000;
};

class TtsSession {
 public:
  using ResponseSink = std::function<void(v1::SynthesizeResponse)>;

  // Validates `config` (INVALID_ARGUMENT naming the field) and resolves the voice. `engine` must
  // outlive the session.
  static absl::StatusOr<std::unique_ptr<TtsSession>> Create(TtsEngine* engine,
                                                            const v1::SynthesisConfig& config,
                                                            ResponseSink sink,
                                                            TtsLimits limits = {});

  ~TtsSession();  // Stops a rendering in progress and waits for its end.

  using Done = std::function<void(const absl::Status& status)>;
  // A rendering that fails after the call that queued it returned (a remote provider's, with
  // nothing left to fall back to) is reported here, once, on the engine's thread.
  void SetFailureHandler(Done on_failure) { on_failure_ = std::move(on_failure); }

  // Adds text; renders every sentence it completes (the error of a rendering done here).
  absl::Status PushText(const v1::TextPiece& piece);
  // Renders all text received so far, even mid-sentence.
  absl::Status Flush();
  // Flush, then, once every sentence has been rendered, a last response with is_final = true
  // (and no audio); `done` follows (on any thread), with the first failure if there was one.
  void FinishAsync(Done done);
  // The same, waiting on this thread (a unary Synthesize).
  absl::Status Finish();
  // Stops a render in progress from any thread; later calls answer CANCELLED.
  void Cancel();

  const std::string& voice() const { return request_.voice; }
  // As rendered: PCM16 at the stream's rate for OPUS.
  const v1::AudioStreamFormat& output_format() const { return config_.output_format(); }
  int64_t audio_bytes_sent() const { return audio_bytes_sent_; }

 private:
  TtsSession(TtsEngine* engine, v1::SynthesisConfig config, ResponseSink sink, TtsLimits limits,
             RenderRequest request, v1::AudioStreamFormat native, size_t chunk_bytes);

  struct Sentence {
    std::string text;
    std::string piece_id;
    int32_t offset = 0;
  };
  struct Rendering;  // One sentence's conversion and chunking, shared with the engine.

  // Queues pending_[0, end) as one sentence, and renders what is queued.
  absl::Status Render(size_t end);
  // Renders the queued sentences in order while none is in flight; then the final response
  // when finishing. Returns the first failure.
  absl::Status Pump();
  absl::Status PumpLoop();  // With pumping_ taken.
  void Start(Sentence sentence, uint64_t id);
  void OnRendered(const std::shared_ptr<Rendering>& rendering, absl::Status status);
  void Fail(const absl::Status& status);
  // PCM16 of the output format (encoded to Opus packets for an OPUS stream), one response each.
  void Emit(std::string data, const std::string& text, const std::string& piece_id,
            int32_t text_offset, bool is_final);
  void EmitChunk(std::string data, v1::AudioFormat format_sent, const std::string& text,
                 const std::string& piece_id, int32_t text_offset, bool is_final);

  TtsEngine* const engine_;
  const v1::SynthesisConfig config_;  // Its output_format as rendered (PCM16 for OPUS).
  const ResponseSink sink_;
  const TtsLimits limits_;
  const RenderRequest request_;
  const v1::AudioStreamFormat native_format_;
  const size_t chunk_bytes_;
  const size_t frame_bytes_;

  std::string pending_;                         // Text not rendered yet.
  size_t pending_offset_ = 0;                   // Stream offset of pending_[0].
  std::map<size_t, std::string> piece_starts_;  // Stream offset -> piece_id.
  size_t text_bytes_ = 0;
  uint64_t sequence_ = 0;
  int64_t frames_sent_ = 0;
  int64_t audio_bytes_sent_ = 0;
  bool finished_ = false;
  std::atomic<bool> cancelled_{false};
  Done on_failure_;
  std::string provider_;  // Of the rendering in flight (its thread's).

  std::mutex mu_;  // Guards what follows; never held while the engine renders.
  std::condition_variable idle_;
  std::deque<Sentence> queue_;
  bool rendering_ = false;  // A sentence is in flight,
  uint64_t render_id_ = 0;  // this one.
  bool pumping_ = false;    // A thread is in Pump.
  bool finishing_ = false;
  bool final_sent_ = false;
  Done finish_done_;
  absl::Status failure_;
  std::function<void()> abort_;              // The rendering in flight's.
  std::unique_ptr<OpusStreamEncoder> opus_;  // For OPUS output.
};

}  // namespace voxflow::tts

#endif  // VOXFLOW_SERVICES_TTS_TTS_SESSION_H_
