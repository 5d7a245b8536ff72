#include "tools/voxctl/conversation.h"

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "services/common/audio_chunk.h"
#include "services/common/sample_format.h"
#include "tools/voxctl/connect.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

namespace voxflow::voxctl {
namespace {

using Stream = grpc::ClientReaderWriter<v1::ConverseRequest, v1::ConverseEvent>;

// What the sender and the reader share.
struct CallState {
  std::mutex mu;
  absl::Time last_sound_sent = absl::InfinitePast();
  absl::Time first_reply_audio = absl::InfinitePast();
  std::atomic<bool> turn_completed{false};
};

// The user's side: config, audio chunks, end of input (or, hands free, silence until a turn has
// completed), half-close. Stops early when the server has ended the stream (Write fails); Finish()
// then tells why.
void SendUtterance(Stream& stream, const ConversationOptions& options, absl::string_view pcm,
                   size_t chunk_bytes, ConversationObserver& observer, CallState& state) {
  v1::ConverseRequest request;
  *request.mutable_config() = options.config;
  if (!stream.Write(request)) return;
  const v1::AudioStreamFormat& format = options.config.input_format();
  const double ms_per_byte = 1000.0 / static_cast<double>(*BytesForDuration(1000, format));
  const absl::Duration total = absl::Milliseconds(static_cast<double>(pcm.size()) * ms_per_byte);
  const absl::Time start = absl::Now();
  uint64_t sequence = 1;
  for (size_t at = 0; at < pcm.size(); at += chunk_bytes) {
    const absl::string_view piece = pcm.substr(at, chunk_bytes);
    const absl::Duration media_at = absl::Milliseconds(static_cast<double>(at) * ms_per_byte);
    if (options.realtime) absl::SleepFor(start + media_at - absl::Now());
    request.Clear();
    v1::AudioChunk* audio = request.mutable_audio();
    audio->set_data(piece.data(), piece.size());
    audio->set_format(format.format());
    audio->set_sample_rate(format.sample_rate());
    audio->set_channels(format.channels());
    audio->set_sequence(sequence++);
    audio->set_timestamp_ms(absl::ToInt64Milliseconds(media_at));
    if (!stream.Write(request)) return;
    // Sound: above -50 dBFS (the client's own measure; the server uses a voice detector).
    if (RmsLevel(piece, format.format()) > std::pow(10.0, -50.0 / 20)) {
      std::lock_guard<std::mutex> lock(state.mu);
      state.last_sound_sent = absl::Now();
    }
    observer.OnAudioSent(absl::Milliseconds(static_cast<double>(at + piece.size()) * ms_per_byte),
                         total);
  }
  if (options.hands_free) {
    // The microphone stays open: silence at real time until the reply's turn completed.
    const std::string silence(chunk_bytes, '\0');
    absl::Time next = absl::Now();
    while (!state.turn_completed.load()) {
      next += absl::Milliseconds(options.chunk_ms);
      absl::SleepFor(next - absl::Now());
      request.Clear();
      v1::AudioChunk* audio = request.mutable_audio();
      audio->set_data(silence);
      audio->set_format(format.format());
      audio->set_sample_rate(format.sample_rate());
      audio->set_channels(format.channels());
      audio->set_sequence(sequence++);
      if (!stream.Write(request)) return;
    }
  } else {
    request.Clear();
    request.mutable_control()->set_type(v1::Control::END_OF_INPUT);
    if (!stream.Write(request)) return;
  }
  stream.WritesDone();
}

}  // namespace

absl::StatusOr<ConversationResult> RunConversation(const std::shared_ptr<grpc::Channel>& channel,
                                                   const std::string& target,
                                                   const ConversationOptions& options,
                                                   absl::string_view input_pcm,
                                                   ConversationObserver& observer) {
  absl::StatusOr<size_t> chunk_bytes =
      BytesForDuration(options.chunk_ms, options.config.input_format());
  if (!chunk_bytes.ok() || *chunk_bytes == 0) {
    return absl::InvalidArgumentError("input format and chunk duration give no whole frame");
  }
  auto stub = v1::Orchestrator::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  const absl::Time start = absl::Now();
  std::unique_ptr<Stream> stream = stub->Converse(&context);
  CallState state;
  std::thread sender(
      [&] { SendUtterance(*stream, options, input_pcm, *chunk_bytes, observer, state); });

  ConversationResult result;
  v1::ConverseEvent event;
  while (stream->Read(&event)) {
    if (event.has_reply_audio()) {
      result.reply_audio.append(event.reply_audio().audio().data());
      std::lock_guard<std::mutex> lock(state.mu);
      if (state.first_reply_audio == absl::InfinitePast()) state.first_reply_audio = absl::Now();
    }
    if (event.has_turn_completed()) {
      result.turns.push_back(event.turn_completed());
      state.turn_completed = true;
    }
    observer.OnEvent(event, absl::Now() - start);
  }
  // The server ended the stream: a sender still writing fails at once and returns.
  sender.join();
  const grpc::Status status = stream->Finish();
  if (!status.ok()) {
    return FromGrpc(status, target, "voxflow.v1.Orchestrator (a Voxflow orchestrator)");
  }
  if (state.first_reply_audio != absl::InfinitePast() &&
      state.last_sound_sent != absl::InfinitePast()) {
    result.voice_to_voice = state.first_reply_audio - state.last_sound_sent;
  }
  return result;
}

}  // namespace voxflow::voxctl
