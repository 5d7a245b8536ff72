#include "services/tts/tts_session.h"

#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/common/audio_chunk.h"
#include "services/common/audio_converter.h"
#include "services/common/opus_codec.h"
#include "services/common/utf8.h"

namespace voxflow::tts {
namespace {

constexpr int kDefaultChunkMs = 100;

// End of the first complete sentence in `text` (one past its terminator), or npos. A sentence ends
// at . ! ? followed by whitespace, or at a newline.
size_t SentenceEnd(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') return i + 1;
    if ((c == '.' || c == '!' || c == '?') && i + 1 < text.size() &&
        absl::ascii_isspace(static_cast<unsigned char>(text[i + 1]))) {
      return i + 1;
    }
  }
  return std::string::npos;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TtsSession>> TtsSession::Create(TtsEngine* engine,
                                                               const v1::SynthesisConfig& config,
                                                               ResponseSink sink,
                                                               TtsLimits limits) {
  const bool opus = config.output_format().format() == v1::OPUS;
  if (absl::Status s = ValidateWireFormat(config.output_format(), "config.output_format");
      !s.ok()) {
    return s;
  }
  if (opus && config.chunk_duration_ms() != 0 &&
      config.chunk_duration_ms() != OpusStreamEncoder::kFrameMs) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.chunk_duration_ms ", config.chunk_duration_ms(),
                     ": OPUS output comes in 20 ms packets, one per chunk (0 or 20)"));
  }
  const int chunk_ms = opus                              ? OpusStreamEncoder::kFrameMs
                       : config.chunk_duration_ms() == 0 ? kDefaultChunkMs
                                                         : config.chunk_duration_ms();
  if (chunk_ms < limits.min_chunk_ms || chunk_ms > limits.max_chunk_ms) {
    return absl::InvalidArgumentError(absl::StrCat("config.chunk_duration_ms ", chunk_ms,
                                                   " is not supported (", limits.min_chunk_ms, "..",
                                                   limits.max_chunk_ms, ")"));
  }
  const float rate = config.speaking_rate() == 0 ? 1.0f : config.speaking_rate();
  if (!(rate >= 0.25f && rate <= 4.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.speaking_rate ", rate, " is not supported (0.25..4)"));
  }
  if (!(config.pitch() >= -12.0f && config.pitch() <= 12.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.pitch ", config.pitch(), " is not supported (-12..12 semitones)"));
  }
  absl::StatusOr<std::string> voice = engine->ResolveVoice(config.voice(), config.language());
  if (!voice.ok()) return voice.status();
  RenderRequest request{"", *voice, rate, config.pitch()};
  // OPUS is rendered as PCM16 at its rate and encoded per 20 ms chunk in Emit.
  v1::SynthesisConfig decoded = config;
  *decoded.mutable_output_format() = DecodedFormat(config.output_format());
  const v1::AudioStreamFormat native = engine->NativeFormat(*voice, decoded.output_format());
  const size_t chunk_bytes = *BytesForDuration(chunk_ms, decoded.output_format());
  std::unique_ptr<TtsSession> session(new TtsSession(engine, decoded, std::move(sink), limits,
                                                     std::move(request), native, chunk_bytes));
  if (opus) {
    absl::StatusOr<std::unique_ptr<OpusStreamEncoder>> encoder =
        OpusStreamEncoder::Create(config.output_format());
    if (!encoder.ok()) return encoder.status();
    session->opus_ = *std::move(encoder);
  }
  return session;
}

TtsSession::TtsSession(TtsEngine* engine, v1::SynthesisConfig config, ResponseSink sink,
                       TtsLimits limits, RenderRequest request, v1::AudioStreamFormat native,
                       size_t chunk_bytes)
    : engine_(engine),
      config_(std::move(config)),
      sink_(std::move(sink)),
      limits_(limits),
      request_(std::move(request)),
      native_format_(std::move(native)),
      chunk_bytes_(chunk_bytes),
      frame_bytes_(static_cast<size_t>(*BytesPerFrame(config_.output_format()))) {}

absl::Status TtsSession::PushText(const v1::TextPiece& piece) {
  if (cancelled_) return absl::CancelledError("synthesis cancelled");
  if (finished_) return absl::FailedPreconditionError("text after end of input");
  if (piece.text().empty()) return absl::InvalidArgumentError("text piece is empty");
  if (absl::Status s = CheckUtf8(piece.text(), "text piece"); !s.ok()) return s;
  if (piece.text().size() > limits_.max_piece_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("text piece of ", piece.text().size(),
                                                   " bytes exceeds the limit of ",
                                                   limits_.max_piece_bytes));
  }
  if (text_bytes_ + piece.text().size() > limits_.max_stream_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream text exceeds the limit of ", limits_.max_stream_bytes, " bytes"));
  }
  piece_starts_[text_bytes_] = piece.piece_id();
  text_bytes_ += piece.text().size();
  pending_ += piece.text();
  while (true) {
    size_t end = SentenceEnd(pending_);
    if (end == std::string::npos && pending_.size() > limits_.max_sentence_bytes) {
      // A run-on: cut at the last space within the limit (or hard at the limit).
      end = pending_.rfind(' ', limits_.max_sentence_bytes);
      end = (end == std::string::npos || end == 0) ? limits_.max_sentence_bytes : end + 1;
    }
    if (end == std::string::npos) return absl::OkStatus();
    if (absl::Status s = Render(end); !s.ok()) return s;
  }
}

absl::Status TtsSession::Flush() {
  if (cancelled_) return absl::CancelledError("synthesis cancelled");
  return pending_.empty() ? absl::OkStatus() : Render(pending_.size());
}

absl::Status TtsSession::Finish() {
  if (absl::Status s = Flush(); !s.ok()) return s;
  finished_ = true;
  Emit("", "", "", static_cast<int32_t>(text_bytes_), /*is_final=*/true);
  return absl::OkStatus();
}

absl::Status TtsSession::Render(size_t end) {
  std::string sentence = pending_.substr(0, end);
  // Tagged by its first spoken character, not the space left over from the previous sentence.
  size_t leading = 0;
  while (leading < sentence.size() &&
         absl::ascii_isspace(static_cast<unsigned char>(sentence[leading]))) {
    ++leading;
  }
  const size_t offset = pending_offset_ + leading;
  pending_.erase(0, end);
  pending_offset_ += end;
  // The piece the sentence starts in.
  auto it = piece_starts_.upper_bound(offset);
  const std::string piece_id = it == piece_starts_.begin() ? "" : std::prev(it)->second;

  const std::string text(absl::StripAsciiWhitespace(sentence));
  if (text.empty()) return absl::OkStatus();

  absl::StatusOr<std::unique_ptr<AudioConverter>> converter =
      AudioConverter::Create(native_format_, config_.output_format());
  if (!converter.ok()) return converter.status();
  // Converted audio; out[sent, end) is not sent yet. Chunks are cut by offset, not by erasing
  // from the front, which was quadratic in the sentence's length.
  std::string out;
  size_t sent = 0;
  auto send_full_chunks = [&] {
    while (out.size() - sent >= chunk_bytes_) {
      Emit(out.substr(sent, chunk_bytes_), text, piece_id, static_cast<int32_t>(offset), false);
      sent += chunk_bytes_;
    }
    if (sent > 0 && sent == out.size()) {
      out.clear();
      sent = 0;
    }
  };
  RenderRequest request = request_;
  request.text = text;
  request.cancelled = &cancelled_;
  absl::Status status = engine_->Render(request, native_format_, [&](absl::string_view pcm) {
    if (cancelled_) return false;
    absl::StatusOr<std::string> converted = (*converter)->Convert(pcm);
    if (!converted.ok()) return false;
    out += *converted;
    send_full_chunks();
    return !cancelled_.load();
  });
  if (cancelled_) return absl::CancelledError("synthesis cancelled");
  if (!status.ok()) return status;
  out += (*converter)->Flush();
  send_full_chunks();
  // The sentence's tail goes out now (a short chunk), not held back for the next sentence.
  std::string tail = out.substr(sent);
  tail.resize(tail.size() - tail.size() % frame_bytes_);
  if (!tail.empty()) Emit(std::move(tail), text, piece_id, static_cast<int32_t>(offset), false);
  return absl::OkStatus();
}

void TtsSession::Emit(std::string data, const std::string& text, const std::string& piece_id,
                      int32_t text_offset, bool is_final) {
  if (opus_ != nullptr && !data.empty()) {
    // One packet per chunk; a sentence's short tail is padded into a last packet, so that it
    // goes out now.
    const size_t frames = data.size() / frame_bytes_;
    absl::StatusOr<std::vector<std::string>> packets = opus_->EncodePiece(data);
    if (!packets.ok()) return;  // Not reached: encoding PCM16 of the right size does not fail.
    for (std::string& packet : *packets) {
      EmitChunk(std::move(packet), v1::OPUS, text, piece_id, text_offset, false);
    }
    frames_sent_ += static_cast<int64_t>(frames);
    audio_bytes_sent_ += static_cast<int64_t>(data.size());
    return;
  }
  const size_t frames = data.size() / frame_bytes_;
  const size_t bytes = data.size();
  EmitChunk(std::move(data), opus_ != nullptr ? v1::OPUS : config_.output_format().format(), text,
            piece_id, text_offset, is_final);
  frames_sent_ += static_cast<int64_t>(frames);
  audio_bytes_sent_ += static_cast<int64_t>(bytes);
}

void TtsSession::EmitChunk(std::string data, v1::AudioFormat format_sent, const std::string& text,
                           const std::string& piece_id, int32_t text_offset, bool is_final) {
  v1::SynthesizeResponse response;
  v1::AudioChunk* chunk = response.mutable_audio();
  const v1::AudioStreamFormat& format = config_.output_format();
  chunk->set_format(format_sent);
  chunk->set_sample_rate(format.sample_rate());
  chunk->set_channels(format.channels());
  chunk->set_sequence(sequence_++);
  chunk->set_timestamp_ms(frames_sent_ * 1000 / format.sample_rate());
  chunk->set_is_final(is_final);
  chunk->set_data(std::move(data));
  response.set_text(text);
  response.set_piece_id(piece_id);
  response.set_text_offset(text_offset);
  response.set_is_final(is_final);
  sink_(std::move(response));
}

}  // namespace voxflow::tts
