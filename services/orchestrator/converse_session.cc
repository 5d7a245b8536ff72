#include "services/orchestrator/converse_session.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "services/common/audio_chunk.h"
#include "services/common/logging.h"
#include "services/common/sample_format.h"
#include "services/orchestrator/stages/conversation_stages.h"
#include "spdlog/spdlog.h"

namespace voxflow::orchestrator {

// One turn: the TurnEnvironment its stages see, and the session's bookkeeping of it. Fields below
// "session state" are guarded by the session's mutex.
class Turn final : public TurnEnvironment {
 public:
  Turn(std::shared_ptr<ConverseSession> session, int id, std::optional<std::string> text)
      : session_(std::move(session)), id_(id), text_(std::move(text)) {}

  int turn_id() const override { return id_; }
  const std::string& session_id() const override { return session_->session_id_; }
  const v1::SessionConfig& config() const override { return session_->config_; }
  const std::optional<std::string>& text_input() const override { return text_; }

  void Mark(TurnMark mark, absl::Time when) override {
    std::lock_guard<std::mutex> lock(mu_);
    marks_.emplace(mark, when);
  }
  absl::Time MarkTime(TurnMark mark) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = marks_.find(mark);
    return it == marks_.end() ? absl::InfinitePast() : it->second;
  }

  std::optional<InputItem> NextInput(const CancellationToken& cancel) override {
    return session_->NextInput(cancel);
  }
  void ReturnInput(std::vector<InputItem> items) override {
    session_->ReturnInput(std::move(items));
  }
  void OnTranscript(const v1::Transcript& transcript) override {
    if (transcript.is_final()) {
      std::lock_guard<std::mutex> lock(mu_);
      transcript_ = transcript.text();
    } else if (!config().interim_results()) {
      return;
    }
    v1::ConverseEvent event;
    v1::TranscriptEvent* out = event.mutable_transcript();
    out->set_text(transcript.text());
    out->set_is_final(transcript.is_final());
    out->set_confidence(transcript.confidence());
    out->set_turn_id(id_);
    session_->Send(std::move(event));
  }
  void OnSpeechEvent(const v1::SpeechEvent& speech) override {
    session_->SendTelemetry(
        speech.type() == v1::SpeechEvent::SPEECH_STARTED ? "stt.speech_started"
                                                         : "stt.end_of_utterance",
        {{"turn_id", absl::StrCat(id_)}, {"offset_ms", absl::StrCat(speech.offset_ms())}});
  }
  void OnReplyText(absl::string_view piece, bool is_final) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      reply_.append(piece.data(), piece.size());
    }
    v1::ConverseEvent event;
    event.mutable_reply_text()->set_text(std::string(piece));
    event.mutable_reply_text()->set_is_final(is_final);
    event.mutable_reply_text()->set_turn_id(id_);
    session_->Send(std::move(event));
  }
  bool OnReplyAudio(v1::AudioChunk audio, const std::string& text,
                    const CancellationToken& cancel) override {
    return session_->OfferReplyAudio(this, std::move(audio), text, cancel);
  }

  std::string transcript() const {
    std::lock_guard<std::mutex> lock(mu_);
    return text_.has_value() ? *text_ : transcript_;
  }
  std::string reply() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reply_;
  }

  // Session state.
  std::shared_ptr<DagRun> run;
  bool dag_done = false;
  bool completed = false;
  TurnResult result;
  bool interrupted = false;
  absl::Time start;
  absl::Time first_audio_sent = absl::InfinitePast();
  double audio_sent_ms = 0;
  // Reply audio by the sentence it speaks, in order: taken from tts, and sent to the client.
  struct SpokenSentence {
    std::string text;
    double taken_ms = 0;
    double sent_ms = 0;
  };
  std::vector<SpokenSentence> sentences;
  size_t sending = 0;  // Index of the sentence being sent.

  void TakeAudio(const std::string& text, double ms) {
    if (sentences.empty() || sentences.back().text != text) sentences.push_back({text, 0, 0});
    sentences.back().taken_ms += ms;
  }
  // Accounts `ms` more audio sent; returns the text of its first part.
  std::string SendAudio(double ms) {
    if (sentences.empty()) return "";
    const std::string text = sentences[std::min(sending, sentences.size() - 1)].text;
    while (ms > 1e-6 && sending < sentences.size()) {
      SpokenSentence& sentence = sentences[sending];
      const double take = std::min(ms, sentence.taken_ms - sentence.sent_ms);
      sentence.sent_ms += take;
      ms -= take;
      if (sentence.sent_ms + 1e-6 >= sentence.taken_ms && sending + 1 < sentences.size()) {
        ++sending;
      } else if (take <= 0) {
        break;
      }
    }
    return text;
  }
  // What the user heard: the sentences sent, the last cut to the share of its words sent.
  std::string HeardText() const {
    std::vector<std::string> parts;
    for (const SpokenSentence& sentence : sentences) {
      if (sentence.sent_ms <= 0) break;
      if (sentence.sent_ms + 1e-6 >= sentence.taken_ms) {
        parts.push_back(sentence.text);
        continue;
      }
      std::vector<std::string> words = absl::StrSplit(sentence.text, ' ', absl::SkipEmpty());
      const auto n = static_cast<size_t>(words.size() * (sentence.sent_ms / sentence.taken_ms));
      if (n > 0) {
        words.resize(n);
        parts.push_back(absl::StrCat(absl::StrJoin(words, " "), "..."));
      }
      break;
    }
    return absl::StrJoin(parts, " ");
  }

 private:
  const std::shared_ptr<ConverseSession> session_;
  const int id_;
  const std::optional<std::string> text_;
  mutable std::mutex mu_;
  std::map<TurnMark, absl::Time> marks_;
  std::string transcript_;
  std::string reply_;
};

namespace {

int64_t MsBetween(absl::Time from, absl::Time to) {
  if (from == absl::InfinitePast() || to == absl::InfinitePast()) return -1;
  return std::max<int64_t>(absl::ToInt64Milliseconds(to - from), 0);
}

std::string NewSessionId() {
  // std::mutex, not absl::Mutex: TSan sees only the former in Debian's uninstrumented Abseil.
  static std::mutex mu;
  static std::mt19937_64 gen(std::random_device{}());
  std::lock_guard<std::mutex> lock(mu);
  return absl::StrFormat("s-%016x", gen());
}

absl::Status CheckSessionId(absl::string_view id) {
  if (id.size() > 128) {
    return absl::InvalidArgumentError("config.session_id is longer than 128 characters");
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.' && c != ':') {
      return absl::InvalidArgumentError(
          "config.session_id may only use letters, digits and - _ . :");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckJitterConfig(const v1::JitterBufferConfig& config, absl::string_view field) {
  if (config.target_duration_ms() < 0 || config.max_duration_ms() < 0 ||
      config.min_delay_ms() < 0 || config.max_delay_ms() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": durations must not be negative"));
  }
  return absl::OkStatus();
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
      end_(std::move(end)) {}

ConverseSession::~ConverseSession() = default;

absl::Status ConverseSession::HandleRequest(v1::ConverseRequest request) {
  ScopedLogContext log_context(session_id_, 0);  // Empty until the config names the session.
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
    const char* what = request.has_audio() ? "audio" : request.has_text() ? "text" : "control";
    return absl::InvalidArgumentError(
        absl::StrCat(what, " before config: the first request must be a SessionConfig"));
  }
  Actions actions;
  const absl::Time now = absl::Now();
  switch (request.request_case()) {
    case v1::ConverseRequest::kAudio:
      return PushAudio(std::move(*request.mutable_audio()));
    case v1::ConverseRequest::kText: {
      std::string text(absl::StripAsciiWhitespace(request.text().text()));
      if (text.empty()) return absl::InvalidArgumentError("text.text is empty");
      if (text.size() > 10000) {
        return absl::InvalidArgumentError("text.text is longer than 10000 bytes");
      }
      std::lock_guard<std::mutex> lock(mu_);
      waiting_texts_.push_back(std::move(text));
      MaybeStartTurnLocked(actions);
      break;
    }
    case v1::ConverseRequest::kControl: {
      std::lock_guard<std::mutex> lock(mu_);
      switch (request.control().type()) {
        case v1::Control::END_OF_INPUT:
          EndUtteranceLocked(now);
          MaybeStartTurnLocked(actions);
          break;
        case v1::Control::INTERRUPT:
          InterruptLocked("interrupt request", actions);
          break;
        default:
          return absl::InvalidArgumentError(
              "control.type must be END_OF_INPUT or INTERRUPT, got TYPE_UNSPECIFIED");
      }
      break;
    }
    default:
      break;
  }
  Run(actions);
  return absl::OkStatus();
}

absl::Status ConverseSession::Configure(const v1::SessionConfig& config) {
  const SessionOptions& options = services_.options;
  if (absl::Status s = CheckSessionId(config.session_id()); !s.ok()) return s;
  std::shared_ptr<const PipelineGraph> pipeline = services_.pipelines->Find(config.pipeline());
  if (pipeline == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.pipeline: unknown pipeline '", config.pipeline(),
        "' (this server runs: ", absl::StrJoin(services_.pipelines->Names(), ", "), ")"));
  }
  for (const auto& [format, field] : {std::pair{&config.input_format(), "config.input_format"},
                                      std::pair{&config.output_format(), "config.output_format"}}) {
    if (absl::Status s = ValidateStreamFormat(*format, field); !s.ok()) return s;
  }
  if (absl::Status s =
          CheckJitterConfig(config.input_jitter_buffer(), "config.input_jitter_buffer");
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckJitterConfig(config.output_jitter_buffer(), "config.output_jitter_buffer");
      !s.ok()) {
    return s;
  }

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

  const v1::JitterBufferConfig& in = config.input_jitter_buffer();
  streaming::JitterBufferOptions input;
  input.target_duration_ms =
      in.target_duration_ms() > 0 ? in.target_duration_ms() : options.input_target_ms;
  input.max_duration_ms = in.max_duration_ms() > 0 ? in.max_duration_ms() : 2000;
  input.format = config.input_format().format();
  input.sample_rate = config.input_format().sample_rate();
  input.channels = config.input_format().channels();
  input.adaptive = in.adaptive();
  if (in.min_delay_ms() > 0) input.min_delay_ms = in.min_delay_ms();
  if (in.max_delay_ms() > 0) input.max_delay_ms = in.max_delay_ms();
  input.max_compression = 0;  // Never drop user speech: the recognizer is not a loudspeaker.
  input.emitter = emitter_for("input");
  auto input_buffer = streaming::JitterBuffer::Create(input);
  if (!input_buffer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.input_jitter_buffer: ", input_buffer.status().message()));
  }

  const v1::JitterBufferConfig& out = config.output_jitter_buffer();
  streaming::JitterBufferOptions output;
  output.target_duration_ms = out.target_duration_ms();
  output.max_duration_ms =
      std::max(out.max_duration_ms() > 0 ? out.max_duration_ms() : options.output_buffer_ms,
               output.target_duration_ms + 1000);
  output.format = config.output_format().format();
  output.sample_rate = config.output_format().sample_rate();
  output.channels = config.output_format().channels();
  output.order_by_sequence = false;  // From one TTS stream: already in order.
  output.max_compression = 0;        // Pacing keeps the delay; nothing to compress.
  output.emitter = emitter_for("output");
  auto output_buffer = streaming::JitterBuffer::Create(output);
  if (!output_buffer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.output_jitter_buffer: ", output_buffer.status().message()));
  }

  streaming::ChunkQueueOptions queue;
  queue.max_size = options.input_queue_chunks;
  queue.drop_on_overflow = true;
  queue.emitter = emitter_for("input_queue");

  std::lock_guard<std::mutex> lock(mu_);
  config_ = config;
  if (config_.language().empty()) config_.set_language("en-US");
  session_id_ = config.session_id().empty() ? NewSessionId() : config.session_id();
  pipeline_ = std::move(pipeline);
  telemetry_ = config.telemetry();
  input_target_ms_ = input.target_duration_ms;
  input_buffer_ = *std::move(input_buffer);
  output_buffer_ = *std::move(output_buffer);
  input_queue_ = std::make_unique<streaming::ChunkQueue<InputItem>>(std::move(queue));
  output_frame_bytes_ = *BytesForDuration(options.frame_ms, config.output_format());
  output_bytes_per_ms_ =
      static_cast<double>(*BytesForDuration(1000, config.output_format())) / 1000.0;
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

absl::Status ConverseSession::PushAudio(v1::AudioChunk chunk) {
  if (absl::Status s =
          ValidateChunk(chunk, config_.input_format(), services_.options.max_chunk_bytes);
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("audio: ", s.message()));
  }
  Actions actions;
  const absl::Time now = absl::Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Chunks without sequence numbers are taken in arrival order.
    if (chunk.sequence() != 0) client_sequences_ = true;
    if (!client_sequences_) chunk.set_sequence(arrival_counter_);
    ++arrival_counter_;
    if (absl::Status s = input_buffer_->Push(std::move(chunk), now); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("audio: ", s.message()));
    }
    audio_since_end_ = true;
    DrainInputLocked(/*all=*/false, now, actions);
    MaybeStartTurnLocked(actions);
  }
  Run(actions);
  return absl::OkStatus();
}

void ConverseSession::DrainInputLocked(bool all, absl::Time now, Actions& actions) {
  const double frame_ms = services_.options.frame_ms;
  const size_t bytes_per_frame = static_cast<size_t>(*BytesPerFrame(config_.input_format()));
  if (all) input_buffer_->StartPlayout();
  while (true) {
    const streaming::JitterBufferStats stats = input_buffer_->stats();
    streaming::PlayoutFrame frame;
    if (all) {
      if (stats.bytes_buffered == 0) break;
      const size_t frame_frames =
          *BytesForDuration(frame_ms, config_.input_format()) / bytes_per_frame;
      frame =
          input_buffer_->ReadFrames(std::min(frame_frames, stats.bytes_buffered / bytes_per_frame));
    } else {
      // In-order audio goes to the recognizer at once: pacing it to a playout cadence would only
      // add delay. The target delay bounds how long a missing chunk is waited for; after that
      // the read conceals the gap and moves on.
      const size_t frame_frames =
          *BytesForDuration(frame_ms, config_.input_format()) / bytes_per_frame;
      if (input_buffer_->ContiguousFrames() >= frame_frames) {
        input_buffer_->StartPlayout();
        frame = input_buffer_->ReadFrames(frame_frames);
      } else if (stats.duration_ms >= input_target_ms_ + frame_ms) {
        frame = input_buffer_->Read(frame_ms);
      } else {
        break;
      }
    }
    if (frame.prebuffering || frame.data.empty()) break;
    DetectBargeInLocked(frame.data, actions);
    InputItem item;
    item.audio.set_data(std::move(frame.data));
    item.audio.set_format(config_.input_format().format());
    item.audio.set_sample_rate(config_.input_format().sample_rate());
    item.audio.set_channels(config_.input_format().channels());
    item.audio.set_sequence(input_sequence_++);
    item.audio.set_timestamp_ms(frame.media_ms);
    item.received = now;
    input_queue_->TryPut(std::move(item));  // Full: the oldest is dropped and counted.
  }
}

void ConverseSession::EndUtteranceLocked(absl::Time now) {
  Actions unused;  // Draining everything cannot barge in on anything new.
  DrainInputLocked(/*all=*/true, now, unused);
  for (auto& action : unused) action();
  if (!audio_since_end_) return;
  audio_since_end_ = false;
  InputItem end;
  end.end_of_utterance = true;
  end.received = now;
  input_queue_->TryPut(std::move(end));
}

void ConverseSession::DetectBargeInLocked(const std::string& frame, Actions& actions) {
  Turn* turn = turn_.get();
  const auto barge_in = config_.attributes().find("barge_in");
  const bool enabled = barge_in == config_.attributes().end() || barge_in->second != "false";
  if (!enabled || turn == nullptr || turn->interrupted || turn->audio_sent_ms <= 0) {
    speech_ms_ = 0;
    return;
  }
  const double level = RmsLevel(frame, config_.input_format().format());
  const double dbfs = 20.0 * std::log10(std::max(level, 1e-9));
  if (dbfs < services_.options.barge_in_dbfs) {
    speech_ms_ = 0;
    return;
  }
  speech_ms_ += static_cast<int>(*DurationMs(frame.size(), config_.input_format()));
  if (speech_ms_ >= services_.options.barge_in_min_speech_ms) {
    speech_ms_ = 0;
    InterruptLocked("user speech", actions);
  }
}

void ConverseSession::InterruptLocked(absl::string_view reason, Actions& actions) {
  Turn* turn = turn_.get();
  if (turn == nullptr || turn->interrupted || turn->completed) return;
  turn->interrupted = true;
  // Stop the reply audio now: nothing more of this turn is sent.
  const double flushed_ms = output_buffer_->stats().duration_ms;
  output_buffer_->Flush();
  playout_end_ = absl::Now();
  const std::string heard = turn->HeardText();
  SendTelemetry("turn.interrupted",
                {{"turn_id", absl::StrCat(turn->turn_id())},
                 {"reason", std::string(reason)},
                 {"reply_audio_sent_ms", absl::StrFormat("%.0f", turn->audio_sent_ms)},
                 {"reply_audio_flushed_ms", absl::StrFormat("%.0f", flushed_ms)},
                 {"heard_text", heard}});
  spdlog::info("session {} turn {} interrupted ({}) after {:.0f} ms of reply audio", session_id_,
               turn->turn_id(), reason, turn->audio_sent_ms);
  if (turn->run != nullptr && !turn->dag_done) {
    actions.push_back([run = turn->run, reason = std::string(reason)] {
      run->CancelStagesOfType({"llm", "tts"}, absl::CancelledError("barge-in: " + reason));
    });
  }
}

bool ConverseSession::OfferReplyAudio(Turn* turn, v1::AudioChunk audio, const std::string& text,
                                      const CancellationToken& cancel) {
  const double chunk_ms = audio.data().size() / output_bytes_per_ms_;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_ || turn_.get() != turn || turn->interrupted) return false;
      const double buffered_ms = output_buffer_->stats().duration_ms;
      if (buffered_ms == 0 || buffered_ms + chunk_ms <= services_.options.output_buffer_ms) {
        if (absl::Status s = output_buffer_->Push(std::move(audio)); !s.ok()) {
          spdlog::warn("session {} turn {}: reply audio refused: {}", session_id_, turn->turn_id(),
                       s);
          return false;
        }
        turn->TakeAudio(text, chunk_ms);
        PaceOutputLocked(absl::Now());  // The first frame goes out now, not at the next tick.
        return true;
      }
    }
    if (cancel.WaitFor(absl::Milliseconds(5))) return false;  // Full: wait for playout.
  }
}

void ConverseSession::PaceOutputLocked(absl::Time now) {
  Turn* turn = turn_.get();
  if (turn == nullptr || turn->interrupted || output_frame_bytes_ == 0) return;
  const absl::Duration lead = absl::Milliseconds(services_.options.output_lead_ms);
  const size_t bytes_per_frame = static_cast<size_t>(*BytesPerFrame(config_.output_format()));
  while (true) {
    if (playout_end_ < now) playout_end_ = now;  // The client has played everything sent.
    if (playout_end_ - now >= lead) return;
    const size_t buffered = output_buffer_->stats().bytes_buffered;
    size_t take;
    if (buffered >= output_frame_bytes_) {
      take = output_frame_bytes_;
    } else if (buffered > 0 && turn->dag_done) {
      take = buffered;  // The reply's last, short frame.
    } else {
      // Nothing to send while the client's audio runs out mid-reply: an output underrun.
      if (turn->audio_sent_ms > 0 && !turn->dag_done && playout_end_ <= now && !output_underrun_) {
        output_underrun_ = true;
        ++output_underruns_;
        SendTelemetry("stream.buffer_underrun",
                      {{"buffer", "output"},
                       {"turn_id", absl::StrCat(turn->turn_id())},
                       {"reply_audio_sent_ms", absl::StrFormat("%.0f", turn->audio_sent_ms)}});
      }
      return;
    }
    streaming::PlayoutFrame frame = output_buffer_->ReadFrames(take / bytes_per_frame);
    if (frame.prebuffering) return;
    output_underrun_ = false;
    const double ms = frame.data.size() / output_bytes_per_ms_;
    v1::ConverseEvent event;
    v1::ReplyAudio* reply = event.mutable_reply_audio();
    v1::AudioChunk* audio = reply->mutable_audio();
    audio->set_data(std::move(frame.data));
    audio->set_format(config_.output_format().format());
    audio->set_sample_rate(config_.output_format().sample_rate());
    audio->set_channels(config_.output_format().channels());
    audio->set_sequence(output_sequence_++);
    audio->set_timestamp_ms(static_cast<int64_t>(turn->audio_sent_ms));
    audio->set_is_final(turn->dag_done && output_buffer_->stats().bytes_buffered == 0);
    reply->set_turn_id(turn->turn_id());
    reply->set_text(turn->SendAudio(ms));
    if (turn->first_audio_sent == absl::InfinitePast()) turn->first_audio_sent = now;
    turn->audio_sent_ms += ms;
    playout_end_ += absl::Milliseconds(ms);
    Send(std::move(event));
  }
}

void ConverseSession::OnTurnDone(const std::shared_ptr<Turn>& turn, const TurnResult& result) {
  ScopedLogContext log_context(session_id_, turn->turn_id());
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    turn->dag_done = true;
    turn->result = result;
    if (turn_ == turn) {
      PaceOutputLocked(absl::Now());  // A last short frame may go now.
      MaybeCompleteTurnLocked(absl::Now(), actions);
    }
  }
  Run(actions);
}

void ConverseSession::MaybeCompleteTurnLocked(absl::Time now, Actions& actions) {
  std::shared_ptr<Turn> turn = turn_;
  if (turn == nullptr || !turn->dag_done) return;
  if (closed_) {
    turn->completed = true;
    turn->run = nullptr;
    turn_ = nullptr;
    return;
  }
  if (!turn->interrupted && output_buffer_->stats().bytes_buffered > 0) return;  // Still playing.
  turn->completed = true;
  const TurnResult& result = turn->result;
  const int id = turn->turn_id();
  ScopedLogContext log_context(session_id_, id);

  for (const StageRecord& stage : result.stages) {
    if (stage.outcome != StageOutcome::kFail) continue;
    spdlog::warn("session {} turn {}: stage {} failed{}: {}", session_id_, id, stage.name,
                 stage.degraded ? " (degraded)" : "", stage.error);
    v1::ConverseEvent event;
    v1::ErrorEvent* error = event.mutable_error();
    error->set_code(static_cast<int>(stage.error.code()));
    error->set_message(absl::StrCat("stage '", stage.name, "' failed: ", stage.error.message()));
    error->set_stage(stage.name);
    error->set_turn_id(id);
    error->set_recoverable(true);  // The session goes on; the next turn may succeed.
    Send(std::move(event));
  }

  const std::string transcript = turn->transcript();
  std::string reply = turn->reply();
  if (turn->interrupted) {
    reply = turn->HeardText();
    if (!transcript.empty()) {
      // Memory keeps only what the user heard (replacing what save_memory wrote, if it ran).
      Exchange exchange{id, transcript, reply, true};
      if (absl::Status s = services_.memory->Record(session_id_, std::move(exchange)); !s.ok()) {
        spdlog::warn("session {} turn {}: cannot save the heard reply: {}", session_id_, id, s);
      }
    }
  }

  v1::ConverseEvent event;
  v1::TurnCompleted* completed = event.mutable_turn_completed();
  completed->set_turn_id(id);
  completed->set_transcript(transcript);
  completed->set_reply(reply);
  completed->set_interrupted(turn->interrupted);
  for (const std::string& degradation : result.degradations) {
    completed->add_degradations(degradation);
  }
  v1::LatencyBreakdown* latency = completed->mutable_latency();
  const absl::Time end_of_speech = turn->MarkTime(TurnMark::kEndOfSpeech);
  const absl::Time final_transcript = turn->MarkTime(TurnMark::kFinalTranscript);
  latency->set_end_of_speech_to_final_transcript_ms(MsBetween(end_of_speech, final_transcript));
  latency->set_llm_first_token_ms(
      MsBetween(turn->text_input().has_value() ? turn->start : final_transcript,
                turn->MarkTime(TurnMark::kLlmFirstToken)));
  latency->set_tts_first_byte_ms(
      MsBetween(turn->MarkTime(TurnMark::kFirstSentence), turn->MarkTime(TurnMark::kTtsFirstByte)));
  latency->set_voice_to_voice_ms(MsBetween(end_of_speech, turn->first_audio_sent));
  latency->set_turn_total_ms(MsBetween(turn->start, now));
  for (const StageRecord& stage : result.stages) {
    if (stage.ran) {
      (*latency->mutable_stage_duration_ms())[stage.name] =
          absl::ToInt64Milliseconds(stage.duration());
    }
  }
  VoiceMetrics::RecordTurn(
      result, turn->first_audio_sent - end_of_speech,
      turn->first_audio_sent != absl::InfinitePast() && end_of_speech != absl::InfinitePast());
  ReportTotalsLocked();
  // `latency` belongs to `event`, which Send() hands to the writer: log from copies.
  const int64_t voice_to_voice_ms = latency->voice_to_voice_ms();
  const int64_t total_ms = latency->turn_total_ms();
  Send(std::move(event));

  if (telemetry_) {
    const streaming::ChunkQueueStats queue = input_queue_->stats();
    const streaming::JitterBufferStats in = input_buffer_->stats();
    SendTelemetry("turn.stats",
                  {{"turn_id", absl::StrCat(id)},
                   {"input_queue_items", absl::StrCat(queue.total_items)},
                   {"input_queue_dropped", absl::StrCat(queue.dropped_items)},
                   {"input_queue_max_size", absl::StrCat(queue.max_queue_size)},
                   {"input_queue_throttled_ms", absl::StrFormat("%.1f", queue.throttled_ms)},
                   {"input_reordered", absl::StrCat(in.reordered)},
                   {"input_late", absl::StrCat(in.late)},
                   {"input_lost", absl::StrCat(in.lost)},
                   {"input_concealed_ms", absl::StrFormat("%.1f", in.concealed_ms)},
                   {"output_underruns", absl::StrCat(output_underruns_)},
                   {"reply_audio_sent_ms", absl::StrFormat("%.0f", turn->audio_sent_ms)}});
  }
  spdlog::info(
      "session {} turn {} done: transcript=\"{}\" reply_chars={} interrupted={} "
      "voice_to_voice_ms={} total_ms={} degradations=[{}]",
      session_id_, id, transcript, reply.size(), turn->interrupted, voice_to_voice_ms, total_ms,
      absl::StrJoin(result.degradations, ","));

  output_buffer_->Flush();  // Empty already; restarts prebuffering for the next reply.
  output_underrun_ = false;
  turn->run = nullptr;  // Breaks the turn <-> run reference cycle.
  turn_ = nullptr;
  if (ending_ && !HasWaitingInputLocked()) {
    actions.push_back([this] {
      std::lock_guard<std::mutex> lock(sink_mu_);
      if (end_) end_(absl::OkStatus());
    });
    return;
  }
  MaybeStartTurnLocked(actions);
}

void ConverseSession::ReportTotalsLocked() {
  if (!configured_) return;
  const streaming::ChunkQueueStats queue = input_queue_->stats();
  const streaming::JitterBufferStats in = input_buffer_->stats();
  StreamTotals now;
  now.queue_dropped = queue.dropped_items;
  now.queue_throttled_ms = queue.throttled_ms;
  now.input_concealed_ms = in.concealed_ms;
  now.output_underruns = output_underruns_;
  VoiceMetrics::AddTotals(now, reported_);
  reported_ = now;
}

bool ConverseSession::HasWaitingInputLocked() {
  return !waiting_texts_.empty() || !returned_input_.empty() ||
         (input_queue_ != nullptr && input_queue_->size() > 0);
}

void ConverseSession::MaybeStartTurnLocked(Actions& actions) {
  if (turn_ != nullptr || closed_ || !configured_) return;
  if (!waiting_texts_.empty()) {
    std::string text = std::move(waiting_texts_.front());
    waiting_texts_.pop_front();
    StartTurnLocked(std::move(text), actions);
    return;
  }
  // An audio turn starts at the first audio waiting; stray ends of utterance are dropped.
  while (true) {
    std::optional<InputItem> item;
    if (!returned_input_.empty()) {
      item = std::move(returned_input_.front());
      returned_input_.pop_front();
    } else {
      item = input_queue_->TryGet();
    }
    if (!item.has_value()) return;
    if (item->end_of_utterance) continue;
    returned_input_.push_front(*std::move(item));
    StartTurnLocked(std::nullopt, actions);
    return;
  }
}

void ConverseSession::StartTurnLocked(std::optional<std::string> text, Actions& actions) {
  const bool typed = text.has_value();
  auto turn = std::make_shared<Turn>(shared_from_this(), ++turns_started_, std::move(text));
  turn->start = absl::Now();
  if (typed) turn->Mark(TurnMark::kEndOfSpeech, turn->start);
  turn_ = turn;

  StageFactories factories =
      MakeStageFactories(turn.get(), services_.stt, services_.tts, services_.memory);
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
  options.log_context = {session_id_, id};
  options.seed = static_cast<uint32_t>(std::hash<std::string>()(session_id_) + id);
  options.parent = token_;
  actions.push_back(
      [this, turn, factories = std::move(factories), options = std::move(options)]() mutable {
        std::shared_ptr<DagRun> run = DagRun::Start(pipeline_, factories, std::move(options));
        bool cancel_now = false;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (turn->completed) return;
          turn->run = run;
          cancel_now = turn->interrupted && !turn->dag_done;
        }
        if (cancel_now) {
          run->CancelStagesOfType({"llm", "tts"}, absl::CancelledError("barge-in before start"));
        }
      });
}

std::optional<InputItem> ConverseSession::NextInput(const CancellationToken& cancel) {
  while (!cancel.cancelled()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return std::nullopt;
      if (!returned_input_.empty()) {
        InputItem item = std::move(returned_input_.front());
        returned_input_.pop_front();
        return item;
      }
    }
    // Short waits, so that a cancellation is seen promptly.
    if (auto item = input_queue_->Get(absl::Now() + absl::Milliseconds(20))) return item;
  }
  return std::nullopt;
}

void ConverseSession::ReturnInput(std::vector<InputItem> items) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = items.rbegin(); it != items.rend(); ++it) {
    returned_input_.push_front(std::move(*it));
  }
}

absl::Status ConverseSession::HandleEndOfInput() {
  ScopedLogContext log_context(session_id_, 0);
  if (!configured_) {
    return absl::InvalidArgumentError("stream ended before a SessionConfig was sent");
  }
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ending_ = true;
    EndUtteranceLocked(absl::Now());
    MaybeStartTurnLocked(actions);
    if (turn_ == nullptr && !HasWaitingInputLocked()) {
      actions.push_back([this] {
        std::lock_guard<std::mutex> lock(sink_mu_);
        if (end_) end_(absl::OkStatus());
      });
    }
  }
  Run(actions);
  return absl::OkStatus();
}

bool ConverseSession::Tick(absl::Time now) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    const absl::Duration limit = services_.options.max_session_duration;
    if (limit > absl::ZeroDuration() && now - created_ > limit && !expired_) {
      expired_ = true;  // Ends the stream; Close() follows from the stream's end.
      spdlog::info("session {} reached --max_session_duration {}", session_id_,
                   absl::FormatDuration(limit));
      actions.push_back([this, limit] {
        std::lock_guard<std::mutex> lock(sink_mu_);
        if (end_) {
          end_(absl::DeadlineExceededError(absl::StrCat(
              "the session reached the server's limit of ", absl::FormatDuration(limit))));
        }
      });
    }
    if (configured_ && !expired_) {
      ScopedLogContext log_context(session_id_, 0);
      DrainInputLocked(/*all=*/false, now, actions);
      PaceOutputLocked(now);
      MaybeCompleteTurnLocked(now, actions);
      MaybeStartTurnLocked(actions);
    }
  }
  Run(actions);
  return true;
}

void ConverseSession::Close() {
  {
    std::lock_guard<std::mutex> lock(sink_mu_);
    send_ = nullptr;
    end_ = nullptr;
  }
  std::string session_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    session_id = session_id_;
    ReportTotalsLocked();  // What came after the last turn.
  }
  token_->Cancel(absl::CancelledError("session closed"));
  if (input_queue_ != nullptr) input_queue_->Close();
  if (!session_id.empty()) services_.memory->Forget(session_id);
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
  telemetry->set_timestamp_ms(absl::ToUnixMillis(absl::Now()));
  Send(std::move(event));
}

void ConverseSession::Run(Actions& actions) {
  for (auto& action : actions) action();
  actions.clear();
}

}  // namespace voxflow::orchestrator
