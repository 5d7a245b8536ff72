#include "services/orchestrator/converse_session.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "services/common/audio_chunk.h"
#include "services/common/logging.h"
#include "services/common/worker_pool.h"
#include "services/orchestrator/session_config.h"
#include "services/orchestrator/session_requests.h"
#include "services/orchestrator/stages/conversation_stages.h"
#include "services/orchestrator/turn_report.h"
#include "spdlog/spdlog.h"

namespace voxflow::orchestrator {

namespace {

std::string NewSessionId() {
  // std::mutex, not absl::Mutex: TSan sees only the former in Debian's uninstrumented Abseil.
  static std::mutex mu;
  static std::mt19937_64 gen(std::random_device{}());
  std::lock_guard<std::mutex> lock(mu);
  return absl::StrFormat("s-%016x", gen());
}

}  // namespace

std::shared_ptr<ConverseSession> ConverseSession::Create(const SessionServices& services,
                                                         EventSink send, EndSink end) {
  return std::shared_ptr<ConverseSession>(
      new ConverseSession(services, std::move(send), std::move(end)));
}

ConverseSession::ConverseSession(const SessionServices& services, EventSink send, EndSink end)
    : services_(services),
      token_(CancellationToken::Create()),
      send_(std::move(send)),
      end_(std::move(end)),
      created_(Now()),
      last_request_ns_(absl::ToUnixNanos(created_)),
      tool_calls_(services.timers) {}

ConverseSession::~ConverseSession() = default;

void ConverseSession::Unlock(Lock& lock) {
  std::vector<std::function<void()>> actions = std::move(deferred_);
  deferred_.clear();
  // The readers of the utterances heard under the lock write to their stt streams: not under it.
  std::vector<std::shared_ptr<Utterance>> readers;
  if (listener_ != nullptr) readers = listener_->TakeReadersToWake();
  lock.unlock();
  Listener::WakeReaders(std::move(readers));
  for (auto& action : actions) action();
}

absl::Status ConverseSession::HandleRequest(v1::ConverseRequest request) {
  ScopedLogContext log_context(session_id_, 0);  // Empty until the config names the session.
  last_request_ns_ = absl::ToUnixNanos(Now());
  {
    std::lock_guard<SessionMutex> lock(mu_);
    WakeTicksLocked();
  }
  if (request.request_case() == v1::ConverseRequest::kConfig) {
    if (configured_) {
      return absl::InvalidArgumentError(
          "config sent twice: only the first request may be a SessionConfig");
    }
    return Configure(request.config());
  }
  if (request.request_case() == v1::ConverseRequest::REQUEST_NOT_SET) {
    return absl::InvalidArgumentError("empty request: set config, audio, text or control");
  }
  if (!configured_) {
    return absl::InvalidArgumentError(absl::StrCat(
        RequestName(request), " before config: the first request must be a SessionConfig"));
  }
  switch (request.request_case()) {
    case v1::ConverseRequest::kAudio:
      return PushAudio(std::move(*request.mutable_audio()));
    case v1::ConverseRequest::kToolResult:
      return HandleToolResult(request.tool_result());
    case v1::ConverseRequest::kText: {
      absl::StatusOr<std::string> text = TypedText(request.text());
      if (!text.ok()) return text.status();
      Lock lock(mu_);
      StartTypedTurnLocked(*std::move(text));
      Unlock(lock);
      return absl::OkStatus();
    }
    case v1::ConverseRequest::kPlayback: {
      const v1::PlaybackProgress& playback = request.playback();
      if (absl::Status s = CheckPlayback(playback); !s.ok()) return s;
      std::lock_guard<SessionMutex> lock(mu_);
      // A turn already completed keeps what it reported; a later report changes nothing.
      for (const QueuedTurn& queued : turns_) {
        if (queued.turn->turn_id() == playback.turn_id()) {
          queued.turn->heard.Played(static_cast<double>(playback.played_ms()));
        }
      }
      return absl::OkStatus();
    }
    case v1::ConverseRequest::kDtmf: {
      if (absl::Status s = CheckDtmf(request.dtmf()); !s.ok()) return s;
      const std::string& digits = request.dtmf().digits();
      SendTelemetry("input.dtmf", {{"digits", digits}});
      Lock lock(mu_);
      StartTypedTurnLocked(absl::StrCat("The caller pressed ", digits, " on the keypad."));
      Unlock(lock);
      return absl::OkStatus();
    }
    case v1::ConverseRequest::kControl:
      break;
    default:
      return absl::OkStatus();
  }
  const v1::Control::Type control = request.control().type();
  if (control != v1::Control::END_OF_INPUT && control != v1::Control::INTERRUPT) {
    return absl::InvalidArgumentError(absl::StrCat(
        "control.type must be END_OF_INPUT (1) or INTERRUPT (2), got ", static_cast<int>(control)));
  }
  Lock lock(mu_);
  if (control == v1::Control::END_OF_INPUT) {
    const absl::Time now = Now();
    listener_->Drain(/*all=*/true, now, RequestHandOvers());
    listener_->EndUtterance(Listener::EndReason::kEndOfInput, now);
  } else {
    InterruptLocked("interrupt request");
  }
  Unlock(lock);
  return absl::OkStatus();
}

absl::Status ConverseSession::Configure(const v1::SessionConfig& requested) {
  std::weak_ptr<ConverseSession> weak = weak_from_this();
  auto emitter_for = [weak](std::string buffer) -> streaming::EventEmitter {
    return [weak, buffer](absl::string_view name, const streaming::EventAttributes& attributes) {
      auto self = weak.lock();
      if (self == nullptr) return;
      streaming::EventAttributes tagged = attributes;
      tagged["buffer"] = buffer;
      self->SendTelemetry(name, tagged);
    };
  };
  absl::StatusOr<SessionSetup> setup = BuildSessionSetup(requested, services_, emitter_for);
  if (!setup.ok()) return setup.status();
  const v1::SessionConfig& config = *setup->config;

  std::string id = config.session_id();
  if (services_.live_sessions != nullptr) {
    if (id.empty()) {
      do {
        id = NewSessionId();
      } while (!services_.live_sessions->Claim(id));
    } else if (!services_.live_sessions->Claim(id)) {
      return absl::AlreadyExistsError(absl::StrCat(
          "config.session_id ", QuoteClientValue(id),
          " names a conversation in progress: a session id belongs to one live conversation "
          "(its memory ends with it); leave it empty to get a new one"));
    }
  } else if (id.empty()) {
    id = NewSessionId();
  }

  std::lock_guard<SessionMutex> lock(mu_);
  config_ = setup->config;
  session_id_ = std::move(id);
  id_claimed_ = services_.live_sessions != nullptr;
  pipeline_ = setup->pipeline;
  telemetry_ = config.telemetry();
  wire_input_format_ = setup->wire_input_format;
  opus_in_ = std::move(setup->opus_in);
  const SessionOptions& options = services_.options;
  listener_ = std::make_unique<Listener>(
      Listener::Options{.frame_ms = options.frame_ms,
                        .leading_silence_ms = options.leading_silence_ms,
                        .input_target_ms = setup->input_target_ms},
      config.input_format(), std::move(setup->input_buffer), std::move(setup->vad),
      setup->endpointing, setup->barge_in, static_cast<ListenerHooks*>(this));
  output_ = std::make_unique<ReplyOutput>(std::move(setup->playout));
  configured_ = true;

  v1::ConverseEvent event;
  v1::SessionStarted* started = event.mutable_session_started();
  started->set_session_id(session_id_);
  started->set_pipeline(pipeline_->name());
  for (const std::string& name : pipeline_->OrderedNames()) started->add_stages(name);
  Send(std::move(event));
  ScopedLogContext log_context(session_id_, 0);
  spdlog::info("session {} started pipeline={} input={}Hz output={}Hz", session_id_,
               pipeline_->name(), config.input_format().sample_rate(),
               config.output_format().sample_rate());
  return absl::OkStatus();
}

absl::Status ConverseSession::HandleToolResult(const v1::ToolResult& result) {
  absl::StatusOr<LlmToolAnswer> answer = ToolAnswer(result);
  if (!answer.ok()) return answer.status();
  if (absl::Status s = tool_calls_.Answer(result.id(), *std::move(answer)); !s.ok()) {
    // Late (after its timeout) rather than malformed: the conversation goes on.
    v1::ConverseEvent event;
    event.mutable_error()->set_code(static_cast<int>(s.code()));
    event.mutable_error()->set_message(std::string(s.message()));
    event.mutable_error()->set_recoverable(true);
    Send(std::move(event));
  }
  return absl::OkStatus();
}

void ConverseSession::CallTool(int turn_id, const LlmToolCall& call, absl::Duration timeout,
                               const std::shared_ptr<CancellationToken>& cancel,
                               LlmToolAnswerSink answer) {
  if (absl::Status s = tool_calls_.Open(call.id); !s.ok()) {
    answer(LlmToolAnswer{"", std::string(s.message())});
    return;
  }
  v1::ConverseEvent event;
  v1::ToolCall* out = event.mutable_tool_call();
  out->set_id(call.id);
  out->set_name(call.name);
  out->set_arguments_json(call.arguments_json);
  out->set_turn_id(turn_id);
  spdlog::debug("session {} turn {} calls tool {} ({})", session_id_, turn_id, call.name, call.id);
  Send(std::move(event));
  tool_calls_.Await(call.id, timeout, cancel, std::move(answer));
}

absl::Status ConverseSession::PushAudio(v1::AudioChunk chunk) {
  if (absl::Status s = ValidateChunk(chunk, wire_input_format_, services_.options.max_chunk_bytes);
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("audio: ", s.message()));
  }
  if (opus_in_ != nullptr) {
    // The decoder conceals sequence gaps (Opus's PLC) and drops late packets: what reaches the
    // jitter buffer is in order, numbered anew.
    absl::StatusOr<std::string> pcm = opus_in_->Decode(chunk.data(), chunk.sequence());
    if (!pcm.ok())
      return absl::InvalidArgumentError(absl::StrCat("audio: ", pcm.status().message()));
    if (pcm->empty()) return absl::OkStatus();
    chunk.set_data(*std::move(pcm));
    chunk.set_format(v1::PCM16);
    chunk.set_sequence(++opus_sequence_);
  }
  Lock lock(mu_);
  request_hand_overs_ = RequestHandOvers();
  absl::Status pushed = listener_->Push(std::move(chunk), Now(), request_hand_overs_);
  Unlock(lock);
  if (!pushed.ok()) return absl::InvalidArgumentError(absl::StrCat("audio: ", pushed.message()));
  return absl::OkStatus();
}

void ConverseSession::StartTypedTurnLocked(std::string text) {
  StartTurnLocked(std::make_shared<Turn>(weak_from_this(), session_id_, config_, ++turns_started_,
                                         std::move(text), nullptr));
}

void ConverseSession::OnUtteranceStarted(std::shared_ptr<Utterance> utterance,
                                         absl::Time speech_began, int64_t stream_ms) {
  auto turn = std::make_shared<Turn>(weak_from_this(), session_id_, config_, ++turns_started_,
                                     std::nullopt, std::move(utterance));
  // A spoken turn begins with its speech (turn_total_ms counts from there).
  turn->start = speech_began;
  listening_ = turn;
  StartTurnLocked(turn);
  SendUserSpeech(v1::UserSpeech::STARTED, stream_ms, turn->turn_id());
}

void ConverseSession::OnUtteranceEnded(absl::Time end_of_speech, absl::Time declared,
                                       int64_t stream_ms) {
  std::shared_ptr<Turn> turn = std::move(listening_);
  listening_ = nullptr;
  turn->Mark(TurnMark::kEndOfSpeech, end_of_speech);
  turn->Mark(TurnMark::kEndOfTurn, declared);
  SendUserSpeech(v1::UserSpeech::STOPPED, stream_ms, turn->turn_id());
}

bool ConverseSession::ReplyPlaying() const { return output_->Playing(); }

void ConverseSession::OnVoiceOverReply(BargeInDetector::Action action) {
  if (turns_.empty()) return;
  const Turn& turn = *turns_.front().turn;
  const streaming::EventAttributes attributes = {
      {"turn_id", absl::StrCat(turn.turn_id())},
      {"reply_audio_sent_ms", absl::StrFormat("%.0f", turn.audio_sent_ms)},
      {"stream_ms", absl::StrFormat("%.0f", listener_->stream_ms())}};
  switch (action) {
    case BargeInDetector::Action::kPause:
      output_->Pause();
      VoiceMetrics::CountBargeIn("paused");
      SendTelemetry("turn.reply_paused", attributes);
      break;
    case BargeInDetector::Action::kResume:
      output_->Resume();
      VoiceMetrics::CountBargeIn("resumed");
      SendTelemetry("turn.reply_resumed", attributes);
      PaceOutputLocked(Now(), kFromBuffer);
      break;
    case BargeInDetector::Action::kInterrupt:
      VoiceMetrics::CountBargeIn("interrupted");
      InterruptLocked("user speech");
      break;
    case BargeInDetector::Action::kNone:
      break;
  }
}

void ConverseSession::OnHeardWords(int turn_id, int words) {
  Lock lock(mu_);
  if (closed_ || listening_ == nullptr || listening_->turn_id() != turn_id) return;
  listener_->OnWords(words);
  Unlock(lock);
}

void ConverseSession::OnRecognizerEndpoint(int turn_id) {
  Lock lock(mu_);
  // A second signal: the recognizer heard the end of the words while the detector still hears
  // sound (steady noise), or the same end a little earlier. Not while voice is heard now.
  if (closed_ || listening_ == nullptr || listening_->turn_id() != turn_id ||
      listener_->silence_run_ms() <= 0) {
    return;
  }
  listener_->EndUtterance(Listener::EndReason::kRecognizer, Now());
  Unlock(lock);
}

void ConverseSession::SendUserSpeech(v1::UserSpeech::Type type, int64_t stream_ms, int turn_id) {
  v1::ConverseEvent event;
  v1::UserSpeech* speech = event.mutable_user_speech();
  speech->set_type(type);
  speech->set_stream_ms(stream_ms);
  speech->set_turn_id(turn_id);
  Send(std::move(event));
}

void ConverseSession::InterruptLocked(absl::string_view reason) {
  if (turns_.empty()) return;
  QueuedTurn& front = turns_.front();
  Turn& turn = *front.turn;
  if (turn.interrupted || turn.completed) return;
  turn.interrupted = true;
  listener_->ResetBargeIn();
  // Stop the reply audio now: nothing more of this turn is sent.
  const double flushed_ms = output_->Flush(Now());
  WakeReplyRoomLocked();
  SendTelemetry("turn.interrupted",
                {{"turn_id", absl::StrCat(turn.turn_id())},
                 {"reason", std::string(reason)},
                 {"reply_audio_sent_ms", absl::StrFormat("%.0f", turn.audio_sent_ms)},
                 {"reply_audio_flushed_ms", absl::StrFormat("%.0f", flushed_ms)},
                 {"heard_text", turn.heard.HeardText()}});
  spdlog::info("session {} turn {} interrupted ({}) after {:.0f} ms of reply audio", session_id_,
               turn.turn_id(), reason, turn.audio_sent_ms);
  if (front.run != nullptr && !turn.dag_done) {
    Defer([run = front.run, reason = std::string(reason)] {
      run->CancelStagesOfType({"llm", "tts"}, absl::CancelledError("barge-in: " + reason));
    });
  }
  MaybeCompleteTurnLocked(Now());
}

ReplyOffer ConverseSession::OfferReplyAudio(int turn_id, v1::AudioChunk& audio,
                                            const std::string& text) {
  std::lock_guard<SessionMutex> lock(mu_);
  if (closed_) return ReplyOffer::kRefused;
  const ReplyOffer offer = output_->Offer(turn_id, audio, text);
  // The first frame goes out now, on the thread that read it from the TTS service.
  if (offer == ReplyOffer::kTaken) PaceOutputLocked(Now(), /*hand_overs=*/0);
  return offer;
}

void ConverseSession::WhenReplyRoom(int turn_id, size_t bytes, std::function<void()> on_room) {
  Lock lock(mu_);
  if (closed_) {
    Defer(std::move(on_room));  // Takes no more of this turn.
  } else {
    output_->AwaitRoom(turn_id, bytes, std::move(on_room));
    WakeReplyRoomLocked();
  }
  Unlock(lock);
}

void ConverseSession::WakeReplyRoomLocked() {
  if (std::function<void()> waiter = output_->TakeWokenWaiter()) Defer(std::move(waiter));
}

void ConverseSession::PaceOutputLocked(absl::Time now, int hand_overs) {
  const std::shared_ptr<Turn>& turn = output_->playing();
  if (turn == nullptr) return;
  ReplyPlayout::Paced paced = output_->Pace(now);
  for (v1::ConverseEvent& frame : paced.frames) {
    if (frame.has_reply_audio()) VoiceMetrics::CountHandOvers(HandOverDirection::kOut, hand_overs);
    Send(std::move(frame));
  }
  if (paced.underrun_started) {
    SendTelemetry("stream.buffer_underrun",
                  {{"buffer", "output"},
                   {"turn_id", absl::StrCat(turn->turn_id())},
                   {"reply_audio_sent_ms", absl::StrFormat("%.0f", turn->audio_sent_ms)}});
  }
}

void ConverseSession::OnTurnDone(const std::shared_ptr<Turn>& turn, const TurnResult& result) {
  ScopedLogContext log_context(session_id_, turn->turn_id());
  Lock lock(mu_);
  turn->dag_done = true;
  turn->result = result;
  // Its stt gave up (failed, timed out) before the utterance ended: what follows is the next
  // utterance, not audio nobody reads.
  if (listening_ == turn) listener_->EndUtterance(Listener::EndReason::kRecognizer, Now());
  if (!turns_.empty() && turns_.front().turn == turn) {
    PaceOutputLocked(Now(), kFromBuffer);  // A last short frame may go now.
    MaybeCompleteTurnLocked(Now());
  }
  Unlock(lock);
}

void ConverseSession::MaybeCompleteTurnLocked(absl::Time now) {
  while (!turns_.empty()) {
    Turn& turn = *turns_.front().turn;
    if (!turn.dag_done) break;
    if (!closed_ && !turn.interrupted && output_->HasAudio()) break;  // Still playing.
    turn.completed = true;
    if (!closed_) CompleteTurnLocked(turn, now);
    output_->EndReply();
    listener_->ResetBargeIn();
    turns_.pop_front();
    ReleaseFrontLocked();
  }
  MaybeEndStreamLocked();
}

void ConverseSession::CompleteTurnLocked(const Turn& turn, absl::Time now) {
  const int id = turn.turn_id();
  ScopedLogContext log_context(session_id_, id);
  CompletedTurn done = CompleteTurn(turn, *pipeline_, session_id_, *services_.memory, now);
  if (done.discarded) {
    SendTelemetry("turn.discarded",
                  {{"turn_id", absl::StrCat(id)}, {"reason", "no words recognised"}});
    spdlog::debug("session {} turn {} discarded: no words recognised", session_id_, id);
    return;
  }
  ReportTotalsLocked();
  // `latency` belongs to the event Send() hands to the writer: log from copies.
  const v1::LatencyBreakdown& latency = done.events.back().turn_completed().latency();
  const int64_t voice_to_voice_ms = latency.voice_to_voice_ms();
  const int64_t total_ms = latency.turn_total_ms();
  for (v1::ConverseEvent& event : done.events) Send(std::move(event));

  if (telemetry_) {
    const streaming::JitterBufferStats in = listener_->input_stats();
    const InputAccounting& accounting = listener_->accounting();
    SendTelemetry("turn.stats",
                  {{"turn_id", absl::StrCat(id)},
                   {"input_reordered", absl::StrCat(in.reordered)},
                   {"input_late", absl::StrCat(in.late)},
                   {"input_lost", absl::StrCat(in.lost)},
                   {"input_concealed_ms", absl::StrFormat("%.1f", in.concealed_ms)},
                   {"input_utterance_bytes", absl::StrCat(accounting.in_utterances)},
                   {"input_silence_dropped_bytes", absl::StrCat(accounting.silence_dropped)},
                   {"output_underruns", absl::StrCat(output_->underruns())},
                   {"reply_audio_sent_ms", absl::StrFormat("%.0f", turn.audio_sent_ms)}});
  }
  // What was said is conversation content: at debug only (docs/ARCHITECTURE.md, "Logs").
  spdlog::info(
      "session {} turn {} done: transcript_chars={} reply_chars={} interrupted={} "
      "voice_to_voice_ms={} total_ms={} degradations=[{}]",
      session_id_, id, done.transcript.size(), done.reply.size(), turn.interrupted,
      voice_to_voice_ms, total_ms, absl::StrJoin(turn.result.degradations, ","));
  spdlog::debug("session {} turn {} transcript={} reply={}", session_id_, id,
                QuoteClientValue(done.transcript, 4096), QuoteClientValue(done.reply, 4096));
}

void ConverseSession::MaybeEndStreamLocked() {
  if (!ending_ || closed_ || !turns_.empty() || listening_ != nullptr) return;
  ending_ = false;  // Once.
  const InputAccounting& accounting = listener_->accounting();
  SendTelemetry("input.accounting",
                {{"pushed_bytes", absl::StrCat(accounting.pushed)},
                 {"utterance_bytes", absl::StrCat(accounting.in_utterances)},
                 {"silence_dropped_bytes", absl::StrCat(accounting.silence_dropped)},
                 {"pending_bytes", absl::StrCat(accounting.pending)},
                 {"utterances", absl::StrCat(accounting.utterances)}});
  Defer([this] { EndStream(absl::OkStatus()); });
}

void ConverseSession::EndStream(const absl::Status& status) {
  std::lock_guard<std::mutex> lock(sink_mu_);
  if (end_) end_(status);
}

void ConverseSession::ReportTotalsLocked() {
  if (!configured_) return;
  StreamTotals now;
  now.input_concealed_ms = listener_->input_stats().concealed_ms;
  now.output_underruns = output_->underruns();
  VoiceMetrics::AddTotals(now, reported_);
  reported_ = now;
}

void ConverseSession::StartTurnLocked(const std::shared_ptr<Turn>& turn) {
  if (turn->start == absl::Time()) turn->start = Now();
  if (turn->text_input().has_value()) turn->Mark(TurnMark::kEndOfSpeech, turn->start);
  turns_.push_back({turn, nullptr});

  StageFactories factories =
      services_.stage_factories
          ? services_.stage_factories(turn.get())
          : MakeStageFactories(turn.get(), services_.stt, services_.tts, services_.memory);
  for (auto& [type, factory] : factories) {
    factory = [turn, make = std::move(factory)](const v1::StageSpec& spec) { return make(spec); };
  }
  std::weak_ptr<ConverseSession> weak = weak_from_this();
  DagRunOptions options;
  const int id = turn->turn_id();
  options.on_event = [weak, id](v1::StageEvent stage) {
    auto self = weak.lock();
    if (self == nullptr) return;
    stage.set_turn_id(id);
    v1::ConverseEvent event;
    *event.mutable_stage() = std::move(stage);
    self->Send(std::move(event));
  };
  options.on_done = [weak, turn](const TurnResult& result) {
    if (auto self = weak.lock()) self->OnTurnDone(turn, result);
  };
  options.timers = services_.timers;
  if (services_.stage_executor != nullptr) options.executor = services_.stage_executor;
  options.log_context = {session_id_, id};
  options.seed = static_cast<uint32_t>(std::hash<std::string>()(session_id_) + id);
  options.parent = token_;
  // stt listens at once; the rest of the turn waits until the turns before it are complete.
  options.run_before_release = {"stt"};
  Defer([this, turn, factories = std::move(factories), options = std::move(options)]() mutable {
    std::shared_ptr<DagRun> run = DagRun::Start(pipeline_, factories, std::move(options));
    bool release = false;
    bool cancel_now = false;
    {
      std::lock_guard<SessionMutex> lock(mu_);
      auto queued = std::find_if(turns_.begin(), turns_.end(),
                                 [&](const QueuedTurn& q) { return q.turn == turn; });
      if (queued == turns_.end()) return;  // Completed (or the session closed) meanwhile.
      queued->run = run;
      release = turn->released;
      cancel_now = turn->interrupted && !turn->dag_done;
    }
    if (release) run->Release();
    if (cancel_now) {
      run->CancelStagesOfType({"llm", "tts"}, absl::CancelledError("barge-in before start"));
    }
  });
  if (turns_.size() == 1) ReleaseFrontLocked();
}

void ConverseSession::ReleaseFrontLocked() {
  if (turns_.empty()) {
    output_->Play(nullptr);
    return;
  }
  QueuedTurn& front = turns_.front();
  output_->Play(front.turn);
  if (front.turn->released) return;
  front.turn->released = true;
  if (front.run != nullptr) Defer([run = front.run] { run->Release(); });
}

InputAccounting ConverseSession::input_accounting() {
  std::lock_guard<SessionMutex> lock(mu_);
  return listener_ != nullptr ? listener_->accounting() : InputAccounting{};
}

absl::Status ConverseSession::HandleEndOfInput() {
  ScopedLogContext log_context(session_id_, 0);
  if (!configured_) {
    return absl::InvalidArgumentError("stream ended before a SessionConfig was sent");
  }
  Lock lock(mu_);
  WakeTicksLocked();
  ending_ = true;
  const absl::Time now = Now();
  listener_->Drain(/*all=*/true, now, RequestHandOvers());
  listener_->EndUtterance(Listener::EndReason::kHalfClose, now);
  MaybeEndStreamLocked();
  Unlock(lock);
  return absl::OkStatus();
}

int ConverseSession::RequestHandOvers() { return Strand::RunningInline() ? 0 : 1; }

bool ConverseSession::Tick(absl::Time now) {
  Lock lock(mu_);
  if (closed_) return false;
  CheckLimitsLocked(now);
  if (configured_ && !expired_) {
    ScopedLogContext log_context(session_id_, 0);
    // Held for a missing chunk: the ticker takes over from the request's thread.
    listener_->Drain(/*all=*/false, now, request_hand_overs_ + kFromBuffer);
    PaceOutputLocked(now, kFromBuffer);
    WakeReplyRoomLocked();  // On this thread: the audio it takes goes out from here.
    MaybeCompleteTurnLocked(now);
  }
  const bool idle = deferred_.empty() && IdleLocked();
  if (idle) SleepLocked(now);
  Unlock(lock);
  return !idle;
}

void ConverseSession::CheckLimitsLocked(absl::Time now) {
  if (expired_) return;
  const absl::Duration limit = services_.options.max_session_duration;
  const absl::Duration idle = services_.options.idle_timeout;
  absl::Status status;
  if (limit > absl::ZeroDuration() && now - created_ > limit) {
    spdlog::info("session {} reached --max_session_duration {}", session_id_,
                 absl::FormatDuration(limit));
    status = absl::DeadlineExceededError(
        absl::StrCat("the session reached the server's limit of ", absl::FormatDuration(limit)));
  } else if (idle > absl::ZeroDuration() && turns_.empty() && listening_ == nullptr &&
             now - absl::FromUnixNanos(last_request_ns_) > idle) {
    spdlog::info("session {} idle for {}: ending it", session_id_, absl::FormatDuration(idle));
    status = absl::DeadlineExceededError(
        absl::StrCat("no input for ", absl::FormatDuration(idle),
                     " while no turn ran (the server's --session_idle_timeout)"));
  } else {
    return;
  }
  expired_ = true;  // Ends the stream; Close() follows from the stream's end.
  Defer([this, status] { EndStream(status); });
}

void ConverseSession::SetTickWaker(std::function<void()> wake) {
  std::lock_guard<SessionMutex> lock(mu_);
  wake_ticks_ = std::move(wake);
  WakeTicksLocked();
}

void ConverseSession::WakeTicksLocked() {
  if (ticking_ || closed_ || !wake_ticks_) return;
  ticking_ = true;
  if (wake_timer_ != 0) {
    services_.timers->Cancel(wake_timer_);
    wake_timer_ = 0;
  }
  wake_ticks_();
}

bool ConverseSession::IdleLocked() const {
  if (expired_ || ending_ || !turns_.empty() || listening_ != nullptr) return false;
  if (!configured_) return true;
  return listener_->input_stats().bytes_buffered == 0 && !output_->HasAudio();
}

void ConverseSession::SleepLocked(absl::Time now) {
  ticking_ = false;
  absl::Time due = absl::InfiniteFuture();
  const SessionOptions& options = services_.options;
  if (options.idle_timeout > absl::ZeroDuration()) {
    due = std::min(due, absl::FromUnixNanos(last_request_ns_) + options.idle_timeout);
  }
  if (options.max_session_duration > absl::ZeroDuration()) {
    due = std::min(due, created_ + options.max_session_duration);
  }
  if (due == absl::InfiniteFuture()) return;
  // Just past the limit, so that the tick it brings finds the limit exceeded.
  std::weak_ptr<ConverseSession> weak = weak_from_this();
  wake_timer_ = services_.timers->Schedule(std::max(due, now) + absl::Milliseconds(1), [weak] {
    auto self = weak.lock();
    if (self == nullptr) return;
    std::lock_guard<SessionMutex> lock(self->mu_);
    self->wake_timer_ = 0;
    self->WakeTicksLocked();
  });
}

void ConverseSession::Close() {
  {
    std::lock_guard<std::mutex> lock(sink_mu_);
    send_ = nullptr;
    end_ = nullptr;
  }
  std::string session_id;
  std::shared_ptr<Turn> listening;
  bool id_claimed = false;
  std::deque<QueuedTurn> turns;
  {
    std::lock_guard<SessionMutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    if (wake_timer_ != 0) services_.timers->Cancel(wake_timer_);
    session_id = session_id_;
    id_claimed = id_claimed_;
    listening = std::move(listening_);
    listening_ = nullptr;
    ReportTotalsLocked();  // What came after the last turn.
    // Turns still queued or running end with the session (no tick will complete them).
    for (const QueuedTurn& queued : turns_) queued.turn->completed = true;
    turns = std::move(turns_);
    turns_.clear();
    if (output_ != nullptr) output_->Close();
    deferred_.clear();
  }
  token_->Cancel(absl::CancelledError("session closed"));
  turns.clear();  // Their runs, after their stages were cancelled.
  if (listening != nullptr) listening->utterance()->End(Now());
  if (!session_id.empty()) services_.memory->Forget(session_id);
  if (id_claimed) services_.live_sessions->Release(session_id);  // After its memory is gone.
}

void ConverseSession::Send(v1::ConverseEvent event) {
  std::lock_guard<std::mutex> lock(sink_mu_);
  if (send_) send_(std::move(event));
}

void ConverseSession::SendTelemetry(absl::string_view name,
                                    const streaming::EventAttributes& attributes) {
  const bool turn_event = absl::StartsWith(name, "turn.");
  if (spdlog::should_log(spdlog::level::debug)) {
    std::vector<std::string> parts;
    for (const auto& [key, value] : attributes) parts.push_back(absl::StrCat(key, "=", value));
    spdlog::debug("session {} {} {}", session_id_, name, absl::StrJoin(parts, " "));
  }
  if (!telemetry_ && !turn_event) return;
  v1::ConverseEvent event;
  v1::TelemetryEvent* telemetry = event.mutable_telemetry();
  telemetry->set_name(std::string(name));
  telemetry->mutable_attributes()->insert(attributes.begin(), attributes.end());
  telemetry->set_timestamp_ms(absl::ToUnixMillis(Now()));
  Send(std::move(event));
}

}  // namespace voxflow::orchestrator
