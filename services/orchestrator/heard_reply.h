// HeardReply: which part of a reply the caller has heard. Reply audio is accounted by the sentence
// it speaks as tts hands it over and as playout sends it; after a barge-in, HeardText() is what
// memory keeps and TurnCompleted.reply reports. A client that reports its playback (Played) bounds
// it further: audio sent but not yet played (a carrier's buffer, a browser's queue) was not heard.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_HEARD_REPLY_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_HEARD_REPLY_H_

#include <string>
#include <vector>

namespace voxflow::orchestrator {

class HeardReply {
 public:
  // `ms` of audio speaking `text` was taken from tts (in order).
  void Take(const std::string& text, double ms);
  // `ms` more audio was sent; returns the text of its first part.
  std::string Send(double ms);
  // The client says it has played the first `ms` of the reply (reports only move forward).
  void Played(double ms);
  // The sentences sent (and played, once the client reports playback), the last cut to the share
  // of its words heard.
  std::string HeardText() const;

 private:
  struct Sentence {
    std::string text;
    double taken_ms = 0;
    double sent_ms = 0;
  };
  std::vector<Sentence> sentences_;
  size_t sending_ = 0;     // Index of the sentence being sent.
  double played_ms_ = -1;  // Negative: the client reports no playback.
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_HEARD_REPLY_H_
