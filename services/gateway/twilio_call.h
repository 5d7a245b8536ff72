// TwilioCall: one phone call from Twilio Media Streams (bidirectional, <Connect><Stream>) bridged
// to one Converse stream.
//
// - `start` opens the conversation in mu-law 8 kHz both ways (no transcoding here); its
//   customParameters become the session's attributes, and `pipeline`, `voice` and `language`
//   among them select those. `media` goes on as AudioChunks whose sequence and timestamp are
//   Twilio's chunk and timestamp, so the orchestrator's jitter buffer sees the network's timing.
//   A phone call never ends its input: the orchestrator's endpointing ends each utterance.
// - Reply audio goes back as `media` as the orchestrator paces it, with a `mark` after each
//   sentence. Twilio echoes a mark once the audio before it has been played: that is reported
//   as PlaybackProgress, so the orchestrator keeps as heard only what the caller heard.
// - The moment the orchestrator pauses or interrupts a reply for the caller's voice, `clear`
//   makes Twilio drop what it holds. The marks Twilio then hands back were not played.
// - `dtmf` digits reach the session as Dtmf requests; `stop` ends the conversation.
#ifndef VOXFLOW_SERVICES_GATEWAY_TWILIO_CALL_H_
#define VOXFLOW_SERVICES_GATEWAY_TWILIO_CALL_H_

#include <cstdint>
#include <deque>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/gateway/call.h"
#include "services/gateway/twilio_messages.h"
#include "services/gateway/voice_clock.h"

namespace voxflow::gateway {

class TwilioCall final : public Call {
 public:
  // `io` outlives the call; `clock` tells the gateway's voice-to-voice.
  TwilioCall(CallIo& io, VoiceClock& clock) : io_(io), clock_(clock) {}

  void OnText(absl::string_view text) override;
  void OnBinary(absl::string_view data) override;
  void OnEvent(const v1::ConverseEvent& event) override;
  void OnConverseEnd(const absl::Status& status) override;

  const std::string& call_sid() const { return call_sid_; }
  const std::string& stream_sid() const { return stream_sid_; }

 private:
  struct PendingMark {
    std::string name;
    int32_t turn_id = 0;
    int64_t played_ms = 0;  // The turn's reply audio before the mark.
    bool cleared = false;   // Sent before a clear: Twilio hands it back unplayed.
  };

  void OnStart(const TwilioStart& start);
  void OnMedia(const TwilioMedia& media);
  void OnMark(const TwilioMark& mark);
  void OnDtmf(const TwilioDtmf& dtmf);
  void OnReplyAudio(const v1::ReplyAudio& audio);
  // A mark after the sentence whose audio went out last, if it has none yet.
  void MarkSentenceEnd();
  void Clear();

  CallIo& io_;
  VoiceClock& clock_;
  bool started_ = false;
  bool ended_ = false;
  std::string stream_sid_;
  std::string call_sid_;
  uint64_t next_sequence_ = 0;  // When Twilio's chunk numbers are missing or out of range.

  // The reply audio on its way to the caller.
  int32_t reply_turn_ = 0;          // The turn whose audio went out last.
  std::string reply_sentence_;      // The text it speaks.
  int64_t reply_ms_ = 0;            // That turn's audio sent so far, in ms.
  bool sentence_unmarked_ = false;  // Audio went out since the last mark or clear.
  bool unplayed_audio_ = false;     // Audio went out since the last clear.
  int32_t interrupted_turn_ = 0;    // Its audio still in flight is dropped.
  int marks_sent_ = 0;
  std::deque<PendingMark> marks_;  // Sent, not yet echoed, in order.
};

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_TWILIO_CALL_H_
