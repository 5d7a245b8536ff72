#include "services/orchestrator/converse_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/logging.h"
#include "services/common/worker_pool.h"
#include "services/orchestrator/session_config.h"
#include "services/orchestrator/session_requests.h"
#include "services/orchestrator/turn_report.h"
#include "services/orchestrator/turn_run.h"
#include "services/orchestrator/turn_telemetry.h"
#include "spdlog/spdlog.h"

namespace voxflow::orchestrator {

std::shared_ptr<ConverseSession> ConverseSession::Create(const SessionServices& services,
                                                         EventSink send, EndSink end) {
  return std::shared_ptr<ConverseSession>(
      new ConverseSession(services, std::move(send), std::move(end)));
}

ConverseSession::ConverseSession(const SessionServices& services, EventSink send, EndSink end)
    : services_(services),
      token_(CancellationToken::Create()),
      events_(std::move(send), std::move(end), [this] { return Now(); }),
      lifetime_(services.options.max_session_duration, services.options.idle_timeout,
                services.timers, Now()),
      client_tools_(services.timers, &events_) {}

void ConverseSession::Unlock(Lock& lock) {
  std::vector<std::function<void()>> actions = std::move(deferred_);
  deferred_.clear();
  // The readers of the utterances heard under the lock write to their stt streams: not under it.
  std::vector<std::shared_ptr<Utterance>> readers;
  if (listener_ != nullptr) readers = listener_->TakeReadersToWake();
  const std::vector<int64_t> stale_timers = lifetime_.TakeTimersToCancel();
  lock.unlock();
  for (int64_t timer : stale_timers) services_.timers->Cancel(timer);
  Listener::WakeReaders(std::move(readers));
  for (auto& action : actions) action();
}

absl::Status ConverseSession::HandleRequest(v1::ConverseRequest request) {
  ScopedLogContext log_context(session_id_, 0);  // Empty until the config names the session.
  lifetime_.Touch(Now());
  {
    Lock lock(mu_);
    lifetime_.Wake();
    Unlock(lock);
  }
  if (absl::Status s = CheckRequestOrder(request, configured_); !s.ok()) return s;
  switch (request.request_case()) {
    case v1::ConverseRequest::kConfig:
      return Configure(request.config());
    case v1::ConverseRequest::kAudio:
      return PushAudio(std::move(*request.mutable_audio()));
    case v1::ConverseRequest::kToolResult:
      return client_tools_.Answer(request.tool_result());
    case v1::ConverseRequest::kText: {
      absl::StatusOr<std::string> text = TypedText(request.text());
      return text.ok() ? StartTypedTurn(*std::move(text)) : text.status();
    }
    case v1::ConverseRequest::kPlayback: {
      const v1::PlaybackProgress& playback = request.playback();
      if (absl::Status s = CheckPlayback(playback); !s.ok()) return s;
      std::lock_guard<SessionMutex> lock(mu_);
      // A turn already completed keeps what it reported; a later report changes nothing.
      if (Turn* turn = turns_.Find(playback.turn_id())) {
        turn->heard.Played(static_cast<double>(playback.played_ms()));
      }
      return absl::OkStatus();
    }
    case v1::ConverseRequest::kDtmf: {
      if (absl::Status s = CheckDtmf(request.dtmf()); !s.ok()) return s;
      SendTelemetry("input.dtmf", {{"digits", request.dtmf().digits()}});
      return StartTypedTurn(DtmfText(request.dtmf()));
    }
    case v1::ConverseRequest::kControl:
      break;
    default:
      return absl::OkStatus();
  }
  if (absl::Status s = CheckControl(request.control()); !s.ok()) return s;
  Lock lock(mu_);
  if (closed_) {
    // A request read before the hang-up: the turns and the open utterance went with Close().
  } else if (request.control().type() == v1::Control::END_OF_INPUT) {
    (void)PushToListenerLocked(wire_input_->Flush());  // Decoded here: they fit the format.
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
  auto emitter_for = [this](std::string buffer) { return events_.BufferEmitter(buffer); };
  absl::StatusOr<SessionSetup> setup = BuildSessionSetup(requested, services_, emitter_for);
  if (!setup.ok()) return setup.status();
  const v1::SessionConfig& config = *setup->config;

  {
    // Before the id is claimed: a drain from then on moves the session.
    std::lock_guard<SessionMutex> lock(mu_);
    move_ = std::make_unique<SessionMove>(config.follows_moves(), services_.options.move_bound);
  }
  SessionClaim claim;
  if (services_.resumption != nullptr) {
    absl::StatusOr<SessionClaim> begun =
        services_.resumption->Begin(config.session_id(), config.resume_token(),
                                    std::static_pointer_cast<LiveSession>(shared_from_this()));
    if (!begun.ok()) return begun.status();
    claim = *std::move(begun);
  } else if (!config.resume_token().empty()) {
    return absl::InvalidArgumentError("config.resume_token: this server does not resume sessions");
  } else {
    claim.session_id = config.session_id().empty() ? NewSessionId() : config.session_id();
  }

  Lock lock(mu_);
  config_ = setup->config;
  session_id_ = claim.session_id;
  claim_ = std::move(claim);
  // A resumed session's turn ids go on from where its last stream left them.
  turns_started_ = claim_.before.last_turn_started;
  turns_settled_ = claim_.before.last_turn_completed;
  events_.SetSession(session_id_, config.telemetry());
  pipeline_ = setup->pipeline;
  wire_input_ = std::make_unique<WireInput>(setup->wire_input_format, std::move(setup->opus_in),
                                            services_.options.max_chunk_bytes,
                                            OpusReorderWaitMs(setup->input_target_ms));
  listener_ = MakeListener(*setup, services_.options, static_cast<ListenerHooks*>(this));
  output_ = std::make_unique<ReplyOutput>(std::move(setup->playout));
  configured_ = true;
  AnnounceStartLocked();
  ScopedLogContext log_context(session_id_, 0);
  spdlog::info("session {} {} pipeline={} input={}Hz output={}Hz", session_id_,
               claim_.resumed ? "resumed" : "started", pipeline_->name(),
               config.input_format().sample_rate(), config.output_format().sample_rate());
  Unlock(lock);
  return absl::OkStatus();
}

void ConverseSession::AnnounceStartLocked() {
  v1::ConverseEvent started = SessionStartedEvent(session_id_, *pipeline_);
  started.mutable_session_started()->set_resume_token(claim_.resume_token);
  started.mutable_session_started()->set_resumed(claim_.resumed);
  started.mutable_session_started()->set_last_turn_id(turns_started_);
  Send(std::move(started));
  // Started by the last stream and never finished: its server went away mid-turn.
  for (int lost = turns_settled_ + 1; lost <= turns_started_; ++lost) {
    v1::ConverseEvent event;
    v1::ErrorEvent* error = event.mutable_error();
    error->set_code(static_cast<int>(absl::StatusCode::kUnavailable));
    error->set_message(absl::StrCat("turn ", lost,
                                    " was lost with the server that ran it (it did not "
                                    "complete); the conversation goes on from turn ",
                                    turns_settled_));
    error->set_turn_id(lost);
    error->set_recoverable(true);
    Send(std::move(event));
  }
  turns_settled_ = turns_started_;
  SaveRecordLocked();
}

void ConverseSession::SaveRecordLocked() {
  if (services_.resumption == nullptr || claim_.owner.empty()) return;
  Defer([resumption = services_.resumption, claim = claim_, counters = TurnCountersLocked()] {
    resumption->Save(claim, counters);
  });
}

void ConverseSession::EndTakenOver() {
  Lock lock(mu_);
  if (!closed_ && !taken_over_) {
    taken_over_ = true;
    spdlog::info("session {} was resumed on another stream: this one ends", session_id_);
    Defer([this] {
      events_.End(absl::AbortedError(
          "config.resume_token: the session was resumed on another stream; this one is over"));
    });
  }
  Unlock(lock);
}

void ConverseSession::MoveAway() {
  Lock lock(mu_);
  const absl::Time now = Now();
  if (!closed_ && move_ != nullptr && move_->Request(now)) {
    lifetime_.Wake();  // Ticks look for the turn boundary (or the bound).
    if (configured_) MaybeMoveLocked(now);
  }
  Unlock(lock);
}

bool ConverseSession::AtTurnBoundaryLocked(absl::Time now) {
  if (!turns_.empty() || listening_ != nullptr || output_->HasAudio()) return false;
  listener_->Drain(/*all=*/true, now, kFromBuffer);  // Held input may be the caller's onset.
  return turns_.empty() && listening_ == nullptr;
}

void ConverseSession::MaybeMoveLocked(absl::Time now) {
  if (closed_ || !configured_ || move_ == nullptr || !move_->requested() || move_->moved()) {
    return;
  }
  const bool boundary = AtTurnBoundaryLocked(now);
  if (!move_->Due(boundary, now)) return;
  move_->Moved();
  // What this stream's input became (silence held for a next utterance stays with this stream).
  SendTelemetry("input.accounting", InputAccountingAttributes(listener_->accounting()));
  v1::ConverseEvent event;
  v1::Reconnect* reconnect = event.mutable_reconnect();
  reconnect->set_resume_token(services_.resumption->Token(session_id_));
  reconnect->set_audio_bytes_used(move_->audio_bytes_used());
  reconnect->set_reason(boundary ? "the server is draining: the session moves between two turns"
                                 : "the server is draining: the session moves before its turn "
                                   "in flight completed (that turn is lost)");
  spdlog::info("session {} moves away ({} bytes of audio used, {})", session_id_,
               move_->audio_bytes_used(), boundary ? "at a turn boundary" : "forced");
  // Its record is written before the client is told to go: the next replica reads its last turn.
  Defer(
      [this, event = std::move(event), claim = claim_, counters = TurnCountersLocked()]() mutable {
        services_.resumption->SaveNow(claim, counters);
        Send(std::move(event));
        events_.End(absl::OkStatus());
      });
}

absl::Status ConverseSession::PushAudio(v1::AudioChunk chunk) {
  const int64_t bytes = static_cast<int64_t>(chunk.data().size());
  absl::StatusOr<std::vector<v1::AudioChunk>> taken = wire_input_->Take(std::move(chunk));
  if (!taken.ok()) return taken.status();
  Lock lock(mu_);
  if (closed_) return absl::OkStatus();  // Read before the hang-up (see HandleRequest).
  if (!move_->TakeAudio(bytes)) {
    Unlock(lock);
    return absl::OkStatus();  // After the move: the client sends it again on its new stream.
  }
  absl::Status pushed = PushToListenerLocked(*std::move(taken));
  Unlock(lock);
  return pushed;
}

absl::Status ConverseSession::PushToListenerLocked(std::vector<v1::AudioChunk> chunks) {
  wire_stats_ = wire_input_->stats();  // On the strand, for readers under the lock.
  request_hand_overs_ = RequestHandOvers();
  for (v1::AudioChunk& chunk : chunks) {
    absl::Status pushed = listener_->Push(std::move(chunk), Now(), request_hand_overs_);
    if (!pushed.ok()) return absl::InvalidArgumentError(absl::StrCat("audio: ", pushed.message()));
  }
  return absl::OkStatus();
}

absl::Status ConverseSession::StartTypedTurn(std::string text) {
  Lock lock(mu_);
  if (!closed_) StartTurnLocked(NewTurnLocked(std::move(text), nullptr));
  Unlock(lock);
  return absl::OkStatus();
}

std::shared_ptr<Turn> ConverseSession::NewTurnLocked(std::optional<std::string> text,
                                                     std::shared_ptr<Utterance> utterance) {
  auto turn = std::make_shared<Turn>(weak_from_this(), session_id_, config_, ++turns_started_,
                                     std::move(text), std::move(utterance),
                                     TurnClock{services_.clock, services_.timers});
  SaveRecordLocked();
  return turn;
}

void ConverseSession::OnUtteranceStarted(std::shared_ptr<Utterance> utterance,
                                         absl::Time speech_began, int64_t stream_ms) {
  std::shared_ptr<Turn> turn = NewTurnLocked(std::nullopt, std::move(utterance));
  // A spoken turn begins with its speech (turn_total_ms counts from there).
  turn->start = speech_began;
  listening_ = turn;
  StartTurnLocked(turn);
  Send(UserSpeechEvent(v1::UserSpeech::STARTED, stream_ms, turn->turn_id()));
}

void ConverseSession::OnUtteranceEnded(absl::Time end_of_speech, absl::Time declared,
                                       int64_t stream_ms) {
  std::shared_ptr<Turn> turn = std::move(listening_);
  listening_ = nullptr;
  turn->Mark(TurnMark::kEndOfSpeech, end_of_speech);
  turn->Mark(TurnMark::kEndOfTurn, declared);
  Send(UserSpeechEvent(v1::UserSpeech::STOPPED, stream_ms, turn->turn_id()));
}

bool ConverseSession::ReplyPlaying() const { return output_->Playing(); }

void ConverseSession::OnVoiceOverReply(BargeInDetector::Action action) {
  if (turns_.empty() || action == BargeInDetector::Action::kNone) return;
  if (action == BargeInDetector::Action::kInterrupt) {
    VoiceMetrics::CountBargeIn("interrupted");
    InterruptLocked("user speech");
    return;
  }
  const bool pause = action == BargeInDetector::Action::kPause;
  output_->Hold(pause, listener_->stream_ms(), events_);
  if (!pause) SendReplyDueLocked(Now(), kFromBuffer);
}

void ConverseSession::SendReplyDueLocked(absl::Time now, int hand_overs) {
  const ReplyOutput::Played played = output_->SendDue(now, hand_overs, events_);
  // What the caller will hear is what may come back into their microphone.
  if (!played.pcm.empty()) listener_->OnReplyPlayed(played.pcm, played.starts);
  for (const ReplyPlayout::Spoken& spoken : played.spoken) {
    listener_->OnReplySpoken(spoken.text, spoken.starts, spoken.ms);
  }
}

void ConverseSession::OnHeard(int turn_id, const std::string& transcript) {
  Lock lock(mu_);
  if (ListeningToLocked(turn_id)) listener_->OnWords(transcript);
  Unlock(lock);
}

bool ConverseSession::IsEchoOfReply(int turn_id, const std::string& transcript) {
  Lock lock(mu_);
  const Turn* turn = turns_.Find(turn_id);
  const bool echo = turn != nullptr && listener_->IsEchoOfReply(transcript, turn->start);
  Unlock(lock);
  return echo;
}

void ConverseSession::OnRecognizerEndpoint(int turn_id) {
  Lock lock(mu_);
  // A second signal: the recognizer heard the end of the words a little before endpointing's
  // silence_ms would. Taken only once the detector has heard no voice for kRecognizerQuietMs: a
  // recognizer also "ends" an utterance at the short gap of a consonant ("what is | the
  // weather"), which cut a question in two.
  if (ListeningToLocked(turn_id) && listener_->unvoiced_run_ms() >= kRecognizerQuietMs) {
    listener_->EndUtterance(Listener::EndReason::kRecognizer, Now());
  }
  Unlock(lock);
}

void ConverseSession::InterruptLocked(absl::string_view reason) {
  if (turns_.empty()) return;
  Turn& turn = *turns_.front();
  if (turn.interrupted || turn.completed) return;
  turn.interrupted = true;
  listener_->ResetBargeIn();
  // Stop the reply audio now: nothing more of this turn is sent.
  const double flushed_ms = output_->Flush(Now());
  WakeReplyRoomLocked();
  SendTelemetry("turn.interrupted", InterruptedAttributes(turn, reason, flushed_ms));
  spdlog::info("session {} turn {} interrupted ({}) after {:.0f} ms of reply audio", session_id_,
               turn.turn_id(), reason, turn.audio_sent_ms);
  if (std::shared_ptr<DagRun> run = turns_.FrontRunning()) {
    Defer([run, reason = std::string(reason)] {
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
  if (offer == ReplyOffer::kTaken) SendReplyDueLocked(Now(), /*hand_overs=*/0);
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

void ConverseSession::OnTurnDone(const std::shared_ptr<Turn>& turn, const TurnResult& result) {
  ScopedLogContext log_context(session_id_, turn->turn_id());
  Lock lock(mu_);
  turn->dag_done = true;
  turn->result = result;
  // Its stt gave up (failed, timed out) before the utterance ended: what follows is the next
  // utterance, not audio nobody reads.
  if (listening_ == turn) listener_->EndUtterance(Listener::EndReason::kRecognizer, Now());
  if (!turns_.empty() && turns_.front() == turn) {
    SendReplyDueLocked(Now(), kFromBuffer);  // A last short frame may go now.
    MaybeCompleteTurnLocked(Now());
  }
  Unlock(lock);
}

void ConverseSession::MaybeCompleteTurnLocked(absl::Time now) {
  while (!turns_.empty()) {
    Turn& turn = *turns_.front();
    if (!turn.dag_done) break;
    if (!closed_ && !turn.interrupted && output_->HasAudio()) break;  // Still playing.
    turn.completed = true;
    if (!closed_) CompleteTurnLocked(turn, now);
    output_->EndReply();
    listener_->ResetBargeIn();
    turns_settled_ = std::max(turns_settled_, turn.turn_id());
    SaveRecordLocked();
    turns_.PopFront();
    ReleaseFrontLocked();
  }
  MaybeEndStreamLocked();
}

void ConverseSession::CompleteTurnLocked(const Turn& turn, absl::Time now) {
  ScopedLogContext log_context(session_id_, turn.turn_id());
  CompletedTurn done = CompleteTurn(turn, *pipeline_, session_id_, *services_.memory, now);
  if (done.discarded) {
    SendTelemetry("turn.discarded",
                  {{"turn_id", absl::StrCat(turn.turn_id())}, {"reason", done.discarded_why}});
    return;
  }
  ReportTotalsLocked();
  for (v1::ConverseEvent& event : done.events) Send(std::move(event));
  const EchoCanceller* echo = listener_->echo_canceller();
  const double noise_floor_dbfs = listener_->noise_floor_dbfs();
  VoiceMetrics::RecordListening(noise_floor_dbfs, echo != nullptr ? &echo->stats() : nullptr);
  if (config_->telemetry()) {
    streaming::EventAttributes stats = TurnStatsAttributes(
        turn, InputStatsLocked(), listener_->accounting(), output_->underruns());
    stats["noise_floor_dbfs"] = absl::StrFormat("%.1f", noise_floor_dbfs);
    if (echo != nullptr) {
      // What the echo canceller saw so far: the echo's delay, how much it took off, and the
      // share of the caller's audio it found echo in.
      const EchoCanceller::Stats& e = echo->stats();
      stats["echo"] = e.state_name();
      stats["echo_cancelling"] = e.engaged ? "true" : "false";
      stats["echo_delay_ms"] = absl::StrCat(e.delay_ms);
      stats["echo_erl_db"] = absl::StrFormat("%.1f", e.erl_db);
      stats["echo_erle_db"] = absl::StrFormat("%.1f", e.erle_db);
      stats["echo_blocks"] = absl::StrCat(e.echo_blocks, "/", e.blocks);
      stats["echo_suppressed_blocks"] = absl::StrCat(e.suppressed_blocks);
    }
    SendTelemetry("turn.stats", stats);
  }
}

void ConverseSession::MaybeEndStreamLocked() {
  if (!ending_ || closed_ || !turns_.empty() || listening_ != nullptr) return;
  ending_ = false;  // Once.
  SendTelemetry("input.accounting", InputAccountingAttributes(listener_->accounting()));
  Defer([this] { events_.End(absl::OkStatus()); });
}

void ConverseSession::ReportTotalsLocked() {
  if (!configured_) return;
  const StreamTotals now = StreamTotals::Of(InputStatsLocked(), output_->underruns());
  VoiceMetrics::AddTotals(now, reported_);
  reported_ = now;
}

void ConverseSession::StartTurnLocked(const std::shared_ptr<Turn>& turn) {
  if (turn->start == absl::Time()) turn->start = Now();
  if (turn->text_input().has_value()) turn->Mark(TurnMark::kEndOfSpeech, turn->start);
  turns_.Push(turn);

  StageFactories factories = TurnStageFactories(services_, turn);
  std::weak_ptr<ConverseSession> weak = weak_from_this();
  const int id = turn->turn_id();
  DagRunOptions options = TurnRunOptions(services_, session_id_, id, token_);
  options.on_event = [weak, id](v1::StageEvent stage) {
    if (auto self = weak.lock()) self->Send(StageEventOf(id, std::move(stage)));
  };
  options.on_done = [weak, turn](const TurnResult& result) {
    if (auto self = weak.lock()) self->OnTurnDone(turn, result);
  };
  Defer([this, turn, factories = std::move(factories), options = std::move(options)]() mutable {
    std::shared_ptr<DagRun> run = DagRun::Start(pipeline_, factories, std::move(options));
    Lock lock(mu_);
    const std::optional<TurnQueue::RunDue> due = turns_.Attach(turn, run);
    lock.unlock();
    if (due && due->release) run->Release();
    if (due && due->cancel) {
      run->CancelStagesOfType({"llm", "tts"}, absl::CancelledError("barge-in before start"));
    }
  });
  if (turns_.size() == 1) ReleaseFrontLocked();
}

void ConverseSession::ReleaseFrontLocked() {
  output_->Play(turns_.empty() ? nullptr : turns_.front());
  if (std::shared_ptr<DagRun> run = turns_.ReleaseFront()) Defer([run] { run->Release(); });
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
  if (closed_) return absl::OkStatus();  // The half-close of a stream that was cancelled.
  lifetime_.Wake();
  ending_ = true;
  (void)PushToListenerLocked(wire_input_->Flush());
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
  if (absl::Status s = lifetime_.Expire(now, turns_.empty() && listening_ == nullptr); !s.ok()) {
    spdlog::info("session {} ends: {}", session_id_, s.message());
    Defer([this, s] { events_.End(s); });  // Close() follows from the stream's end.
  }
  if (configured_ && !lifetime_.expired()) {
    ScopedLogContext log_context(session_id_, 0);
    // Held for a missing chunk: the ticker takes over from the request's thread.
    listener_->Drain(/*all=*/false, now, request_hand_overs_ + kFromBuffer);
    SendReplyDueLocked(now, kFromBuffer);
    WakeReplyRoomLocked();  // On this thread: the audio it takes goes out from here.
    MaybeCompleteTurnLocked(now);
    MaybeMoveLocked(now);
  }
  const bool idle = deferred_.empty() && IdleLocked();
  if (idle) {
    lifetime_.Sleep(now, [weak = weak_from_this()](int64_t generation) {
      auto self = weak.lock();
      if (self == nullptr) return;
      Lock lock(self->mu_);
      self->lifetime_.WakeOnTimer(generation);
      self->Unlock(lock);
    });
  }
  Unlock(lock);
  return !idle;
}

void ConverseSession::SetTickWaker(std::function<void()> wake) {
  Lock lock(mu_);
  lifetime_.SetWaker(std::move(wake));
  Unlock(lock);
}

bool ConverseSession::IdleLocked() const {
  if (lifetime_.expired() || ending_ || !turns_.empty() || listening_ != nullptr) return false;
  if (move_ != nullptr && move_->requested() && !move_->moved()) return false;  // Until it moves.
  if (!configured_) return true;
  return listener_->input_stats().bytes_buffered == 0 && !output_->HasAudio();
}

void ConverseSession::Close(bool conversation_over) {
  events_.Close();
  std::string session_id;
  std::shared_ptr<Turn> listening;
  SessionClaim claim;
  bool taken_over = false;
  std::deque<TurnQueue::Queued> turns;
  {
    Lock lock(mu_);
    if (closed_) return;
    closed_ = true;
    lifetime_.Stop();
    session_id = session_id_;
    claim = claim_;
    taken_over = taken_over_;
    // A session that moved, or was taken over, goes on elsewhere.
    if (taken_over_ || (move_ != nullptr && move_->moved())) conversation_over = false;
    listening = std::move(listening_);
    listening_ = nullptr;
    ReportTotalsLocked();      // What came after the last turn.
    turns = turns_.TakeAll();  // They end with the session (no tick will complete them).
    if (output_ != nullptr) output_->Close();
    deferred_.clear();
    Unlock(lock);  // Cancels the wake timer.
  }
  token_->Cancel(absl::CancelledError("session closed"));
  turns.clear();  // Their runs, after their stages were cancelled.
  if (listening != nullptr) listening->utterance()->End(Now());
  // Its memory goes with the conversation; a session that may resume elsewhere keeps it in the
  // shared store (this replica lets go of its copy), one taken over here keeps it for the stream
  // that took it.
  const bool resumable =
      services_.resumption != nullptr && services_.resumption->keeps_ended_sessions();
  if (!session_id.empty()) {
    if (conversation_over || (!resumable && !taken_over)) {
      services_.memory->Forget(session_id);
    } else if (!taken_over) {
      services_.memory->Unload(session_id);
    }
  }
  // After its memory is gone: the id is free again.
  if (!claim.owner.empty()) services_.resumption->End(claim, conversation_over);
}

}  // namespace voxflow::orchestrator
