// EchoGuard: the last line against the reply's own voice coming back. What the echo canceller
// leaves of a loud or changing echo can still reach the recognizer, which then hears the reply's
// words ("i can't see out") and the agent would answer itself. The guard keeps the words of the
// reply as they went out to the caller, with when, and tells an utterance that is those words
// coming back from the caller's own words: most of its words (two in three) are, in order, words
// of the reply sent from a second before its speech began.
//
// It only knows words, so a caller who answers with the reply's own words in its order (the
// reply asks "tea or coffee", the caller says "coffee" over it) reads as echo too: its owner asks
// it only where an echo was found in the caller's audio. Pure logic over the times it is given.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_ECHO_GUARD_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_ECHO_GUARD_H_

#include <deque>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace voxflow::orchestrator {

class EchoGuard {
 public:
  // Reply audio speaking `text` (its sentence) went out, due to play from `starts` for `ms`.
  void OnReplySent(absl::string_view text, absl::Time starts, double ms);
  // Whether `transcript`, speech that began at `speech_began`, is the reply's echo.
  bool IsEcho(absl::string_view transcript, absl::Time speech_began) const;
  // How many words of `transcript` are the caller's: those not matched, in order, to words of the
  // reply sent from a second before `speech_began` (all of them when none was).
  int CallerWords(absl::string_view transcript, absl::Time speech_began) const;

  // Words of the transcript, as they are compared: lower case, letters, digits and apostrophes.
  static std::vector<std::string> Words(absl::string_view text);

 private:
  // The echo comes back 40-400 ms after its words went out, and a detector may start the
  // utterance a little ahead of the speech.
  static constexpr absl::Duration kLead = absl::Seconds(1);
  // Words sent this long ago are let go.
  static constexpr absl::Duration kKeep = absl::Seconds(30);

  // Words of the reply whose audio ended at `since` or later, in the order sent (a word's end is
  // estimated by its place in its sentence).
  std::vector<std::string> SentSince(absl::Time since) const;
  // The number of `heard` words matched, in order, to the reply's since a second before the
  // speech (the longest common subsequence).
  int Matched(const std::vector<std::string>& heard, absl::Time speech_began) const;

  struct Sentence {
    std::string text;
    absl::Time starts;
    absl::Time ends;
  };
  std::deque<Sentence> sentences_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_ECHO_GUARD_H_
