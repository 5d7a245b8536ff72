#include "tools/voxctl/conversation.h"

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "services/common/audio_chunk.h"
#include "services/common/converse_resumer.h"
#include "services/common/sample_format.h"
#include "tools/voxctl/connect.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

namespace voxflow::voxctl {
namespace {

using Stream = grpc::ClientReaderWriter<v1::ConverseRequest, v1::ConverseEvent>;

// What the sender and the reader share: the call's current stream (a server that drains moves
// the session to another stream, and one that goes away is resumed on another), and timings.
struct CallState {
  explicit CallState(const v1::SessionConfig& config) : resumer(config) {}

  // Writes to the current stream; audio is remembered to be sent again after a switch. False
  // once the call is over for good.
  bool Write(const v1::ConverseRequest& request) {
    std::lock_guard<std::mutex> lock(mu);
    if (over) return false;
    if (request.has_audio()) resumer.AudioSent(request.audio());
    if (request.has_control() && request.control().type() == v1::Control::END_OF_INPUT) {
      sent_end_of_input = true;
    }
    stream->Write(request);
    return true;
  }
  void WritesDone() {
    std::lock_guard<std::mutex> lock(mu);
    half_closed = true;
    if (!over) stream->WritesDone();
  }
  // The next stream, on `stub`: the resume token, the audio the last one did not use, and the
  // end of input if it was sent.
  void Switch(v1::Orchestrator::Stub& stub, absl::Time deadline) {
    std::lock_guard<std::mutex> lock(mu);
    auto next_context = std::make_unique<grpc::ClientContext>();
    next_context->set_deadline(absl::ToChronoTime(deadline));
    std::unique_ptr<Stream> next = stub.Converse(next_context.get());
    for (const v1::ConverseRequest& request : resumer.ResumeRequests()) next->Write(request);
    if (sent_end_of_input) {
      v1::ConverseRequest end;
      end.mutable_control()->set_type(v1::Control::END_OF_INPUT);
      next->Write(end);
    }
    if (half_closed) next->WritesDone();
    retired.push_back({std::move(context), std::move(stream)});
    context = std::move(next_context);
    stream = std::move(next);
  }
  void End() {
    std::lock_guard<std::mutex> lock(mu);
    over = true;
  }

  std::mutex mu;
  ConverseResumer resumer;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<Stream> stream;
  // Streams switched away from (kept until the call ends: the sender may be writing to one).
  std::vector<std::pair<std::unique_ptr<grpc::ClientContext>, std::unique_ptr<Stream>>> retired;
  bool over = false;
  bool half_closed = false;
  bool sent_end_of_input = false;
  absl::Time last_sound_sent = absl::InfinitePast();
  absl::Time first_reply_audio = absl::InfinitePast();
  std::atomic<bool> turn_completed{false};
};

// The user's side: config, audio chunks, end of input (or, hands free, silence until a turn has
// completed), half-close. Stops early when the server has ended the stream (Write fails); Finish()
// then tells why.
void SendUtterance(const ConversationOptions& options, absl::string_view pcm, size_t chunk_bytes,
                   ConversationObserver& observer, CallState& state) {
  v1::ConverseRequest request = state.resumer.FirstRequest();
  if (!state.Write(request)) return;
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
    if (!state.Write(request)) return;
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
      if (!state.Write(request)) return;
    }
  } else {
    request.Clear();
    request.mutable_control()->set_type(v1::Control::END_OF_INPUT);
    if (!state.Write(request)) return;
  }
  state.WritesDone();
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
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + options.timeout;
  CallState state(options.config);
  state.context = std::make_unique<grpc::ClientContext>();
  state.context->set_deadline(absl::ToChronoTime(deadline));
  state.stream = stub->Converse(state.context.get());
  std::thread sender([&] { SendUtterance(options, input_pcm, *chunk_bytes, observer, state); });

  ConversationResult result;
  v1::ConverseEvent event;
  grpc::Status status;
  while (true) {
    // Only this thread replaces the stream: reading it without the lock is safe.
    Stream* stream = state.stream.get();
    bool moved = false;
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
      {
        std::lock_guard<std::mutex> lock(state.mu);
        moved |= state.resumer.OnEvent(event) == ConverseResumer::Next::kReconnect;
      }
      observer.OnEvent(event, absl::Now() - start);
    }
    status = stream->Finish();
    bool resume;
    {
      std::lock_guard<std::mutex> lock(state.mu);
      resume =
          moved || state.resumer.ShouldResume(absl::Status(
                       static_cast<absl::StatusCode>(status.error_code()), status.error_message()));
    }
    if (!resume) break;
    // The session goes on on another stream (the channel picks a server that is not draining).
    absl::Duration delay;
    {
      std::lock_guard<std::mutex> lock(state.mu);
      delay = state.resumer.RetryDelay();
    }
    absl::SleepFor(delay);
    state.Switch(*stub, deadline);
  }
  // The call is over: a sender still writing stops at once and returns.
  state.End();
  sender.join();
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
