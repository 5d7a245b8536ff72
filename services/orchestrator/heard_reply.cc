#include "services/orchestrator/heard_reply.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace voxflow::orchestrator {

void HeardReply::Take(const std::string& text, double ms) {
  if (sentences_.empty() || sentences_.back().text != text) sentences_.push_back({text, 0, 0});
  sentences_.back().taken_ms += ms;
}

std::string HeardReply::Send(double ms) {
  if (sentences_.empty()) return "";
  const std::string text = sentences_[std::min(sending_, sentences_.size() - 1)].text;
  while (ms > 1e-6 && sending_ < sentences_.size()) {
    Sentence& sentence = sentences_[sending_];
    const double take = std::min(ms, sentence.taken_ms - sentence.sent_ms);
    sentence.sent_ms += take;
    ms -= take;
    if (sentence.sent_ms + 1e-6 >= sentence.taken_ms && sending_ + 1 < sentences_.size()) {
      ++sending_;
    } else if (take <= 0) {
      break;
    }
  }
  return text;
}

void HeardReply::Played(double ms) { played_ms_ = std::max(played_ms_, ms); }

std::string HeardReply::HeardText() const {
  std::vector<std::string> parts;
  // What the client has not played yet, it has not heard.
  double playable_ms = played_ms_ < 0 ? std::numeric_limits<double>::infinity() : played_ms_;
  for (const Sentence& sentence : sentences_) {
    const double heard_ms = std::min(sentence.sent_ms, playable_ms);
    playable_ms -= heard_ms;
    if (heard_ms <= 0) break;
    if (heard_ms + 1e-6 >= sentence.taken_ms) {
      parts.push_back(sentence.text);
      continue;
    }
    std::vector<std::string> words = absl::StrSplit(sentence.text, ' ', absl::SkipEmpty());
    const auto n = static_cast<size_t>(words.size() * (heard_ms / sentence.taken_ms));
    if (n > 0) {
      words.resize(n);
      parts.push_back(absl::StrCat(absl::StrJoin(words, " "), "..."));
    }
    break;
  }
  return absl::StrJoin(parts, " ");
}

}  // namespace voxflow::orchestrator
