#include "services/tts/tts_session.h"

#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/common/audio_chunk.h"
#include "services/common/audio_converter.h"
#include "services/common/notification.h"
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
  RenderRequest request;
  request.voice = *voice;
  request.language = config.language();
  request.provider = config.provider();
  request.speaking_rate = rate;
  request.pitch_semitones = config.pitch();
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
  return pending_.empty() ? Pump() : Render(pending_.size());
}

void TtsSession::FinishAsync(Done done) {
  if (absl::Status s = Flush(); !s.ok()) return done(s);
  finished_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_.ok()) {
      const absl::Status failure = failure_;
      return done(failure);
    }
    finishing_ = true;
    finish_done_ = std::move(done);
  }
  // A failure reaches `done` through Fail.
  Pump().IgnoreError();
}

absl::Status TtsSession::Finish() {
  Notification finished;
  absl::Status result;
  FinishAsync([&](const absl::Status& status) {
    result = status;
    finished.Notify();
  });
  finished.WaitForNotification();
  return result;
}

void TtsSession::Cancel() {
  cancelled_ = true;
  std::function<void()> abort;
  {
    std::lock_guard<std::mutex> lock(mu_);
    abort = abort_;
  }
  if (abort) abort();
}

TtsSession::~TtsSession() {
  Cancel();
  // A rendering's callbacks may still run on the engine's thread: they touch nothing of ours
  // once both flags are down.
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [this] { return !rendering_ && !pumping_; });
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

  std::string text(absl::StripAsciiWhitespace(sentence));
  if (!text.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({std::move(text), piece_id, static_cast<int32_t>(offset)});
  }
  return Pump();
}

absl::Status TtsSession::Pump() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pumping_) return failure_;
    pumping_ = true;
  }
  return PumpLoop();
}

absl::Status TtsSession::PumpLoop() {
  while (true) {
    Sentence next;
    Done finished;
    uint64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (rendering_ || !failure_.ok() || cancelled_ ||
          (queue_.empty() && (!finishing_ || final_sent_))) {
        absl::Status result = failure_;
        if (result.ok() && cancelled_) result = absl::CancelledError("synthesis cancelled");
        pumping_ = false;
        idle_.notify_all();
        return result;
      }
      if (queue_.empty()) {
        final_sent_ = true;
        finished = std::move(finish_done_);
      } else {
        next = std::move(queue_.front());
        queue_.pop_front();
        rendering_ = true;
        id = ++render_id_;
      }
    }
    if (finished) {
      Emit("", "", "", static_cast<int32_t>(text_bytes_), /*is_final=*/true);
      {
        std::lock_guard<std::mutex> lock(mu_);
        pumping_ = false;
        idle_.notify_all();
      }
      finished(absl::OkStatus());
      return absl::OkStatus();
    }
    Start(std::move(next), id);  // Renders here, or leaves the rendering in flight.
  }
}

// One sentence's rendering: the engine's audio converted to the stream's format and cut into
// chunks of the stream's duration. out[sent, end) is not sent yet; chunks are cut by offset, not
// by erasing from the front, which was quadratic in the sentence's length.
struct TtsSession::Rendering {
  Sentence sentence;
  std::unique_ptr<AudioConverter> converter;
  std::string out;
  size_t sent = 0;
  absl::Status failure;
};

void TtsSession::Start(Sentence sentence, uint64_t id) {
  auto rendering = std::make_shared<Rendering>();
  rendering->sentence = std::move(sentence);
  absl::StatusOr<std::unique_ptr<AudioConverter>> converter =
      AudioConverter::Create(native_format_, config_.output_format());
  if (!converter.ok()) return OnRendered(rendering, converter.status());
  rendering->converter = *std::move(converter);
  RenderRequest request = request_;
  request.text = rendering->sentence.text;
  request.cancelled = &cancelled_;
  RenderCallbacks callbacks;
  callbacks.on_provider = [this](const std::string& provider) { provider_ = provider; };
  callbacks.on_pcm = [this, rendering](absl::string_view pcm) {
    Rendering& r = *rendering;
    if (cancelled_) return false;
    absl::StatusOr<std::string> converted = r.converter->Convert(pcm);
    if (!converted.ok()) {
      r.failure = converted.status();
      return false;
    }
    r.out += *converted;
    while (r.out.size() - r.sent >= chunk_bytes_) {
      Emit(r.out.substr(r.sent, chunk_bytes_), r.sentence.text, r.sentence.piece_id,
           r.sentence.offset, false);
      r.sent += chunk_bytes_;
    }
    if (r.sent > 0 && r.sent == r.out.size()) {
      r.out.clear();
      r.sent = 0;
    }
    return !cancelled_.load();
  };
  callbacks.on_done = [this, rendering](const absl::Status& status) {
    OnRendered(rendering, status);
  };
  std::function<void()> abort = engine_->RenderAsync(request, native_format_, std::move(callbacks));
  bool cancelled = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (rendering_ && render_id_ == id) {
      abort_ = std::move(abort);  // Still in flight.
      cancelled = cancelled_;
    }
  }
  if (cancelled) Cancel();
}

void TtsSession::OnRendered(const std::shared_ptr<Rendering>& rendering, absl::Status status) {
  Rendering& r = *rendering;
  if (status.ok() && !r.failure.ok()) status = r.failure;
  if (cancelled_) status = absl::CancelledError("synthesis cancelled");
  if (status.ok()) {
    r.out += r.converter->Flush();
    while (r.out.size() - r.sent >= chunk_bytes_) {
      Emit(r.out.substr(r.sent, chunk_bytes_), r.sentence.text, r.sentence.piece_id,
           r.sentence.offset, false);
      r.sent += chunk_bytes_;
    }
    // The sentence's tail goes out now (a short chunk), not held back for the next sentence.
    std::string tail = r.out.substr(r.sent);
    tail.resize(tail.size() - tail.size() % frame_bytes_);
    if (!tail.empty()) {
      Emit(std::move(tail), r.sentence.text, r.sentence.piece_id, r.sentence.offset, false);
    }
  } else if (!cancelled_) {
    Fail(status);  // While rendering_ is up: the session cannot go meanwhile.
  }
  bool pump = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rendering_ = false;
    abort_ = nullptr;
    if (status.ok() && !pumping_) pump = pumping_ = true;
    if (!status.ok() && failure_.ok()) failure_ = status;  // Cancelled.
    idle_.notify_all();
  }
  if (pump)
    PumpLoop().IgnoreError();  // Failures went to Fail. A rendering finished on the engine's
                               // thread: the next one starts.
}

void TtsSession::Fail(const absl::Status& status) {
  Done done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_.ok()) return;
    failure_ = status;
    done = std::move(finish_done_);
  }
  if (done) done(status);
  // Also when a call is waiting for Pump's answer: ending a stream twice keeps the first.
  if (on_failure_) on_failure_(status);
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
  if (!provider_.empty()) response.set_provider(provider_);
  sink_(std::move(response));
}

}  // namespace voxflow::tts
