// TtsSession: one synthesis stream's logic, independent of gRPC and of the engine. Text arrives in
// pieces (an LLM's reply); each complete sentence is rendered as soon as it is complete, converted
// to the requested format, and sent out in chunks of the requested duration, each tagged with the
// sentence it speaks. Rendering runs on the caller's thread (a worker, never a gRPC thread).
#ifndef VOXFLOW_SERVICES_TTS_TTS_SESSION_H_
#define VOXFLOW_SERVICES_TTS_TTS_SESSION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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

  // Adds text; renders every sentence it completes.
  absl::Status PushText(const v1::TextPiece& piece);
  // Renders all text received so far, even mid-sentence.
  absl::Status Flush();
  // Flush, then a last response with is_final = true (and no audio).
  absl::Status Finish();
  // Stops a render in progress from any thread; later calls answer CANCELLED.
  void Cancel() { cancelled_ = true; }

  const std::string& voice() const { return request_.voice; }
  // As rendered: PCM16 at the stream's rate for OPUS.
  const v1::AudioStreamFormat& output_format() const { return config_.output_format(); }
  int64_t audio_bytes_sent() const { return audio_bytes_sent_; }

 private:
  TtsSession(TtsEngine* engine, v1::SynthesisConfig config, ResponseSink sink, TtsLimits limits,
             RenderRequest request, v1::AudioStreamFormat native, size_t chunk_bytes);

  // Renders pending_[0, end) as one sentence.
  absl::Status Render(size_t end);
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
  std::unique_ptr<OpusStreamEncoder> opus_;  // For OPUS output.
};

}  // namespace voxflow::tts

#endif  // VOXFLOW_SERVICES_TTS_TTS_SESSION_H_
