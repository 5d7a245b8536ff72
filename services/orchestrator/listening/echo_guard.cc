#include "services/orchestrator/listening/echo_guard.h"

#include <algorithm>
#include <cctype>

namespace voxflow::orchestrator {

std::vector<std::string> EchoGuard::Words(absl::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '\'') {
      word += static_cast<char>(std::tolower(u));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

void EchoGuard::OnReplySent(absl::string_view text, absl::Time starts, double ms) {
  const absl::Time ends = starts + absl::Milliseconds(ms);
  if (!sentences_.empty() && sentences_.back().text == text) {
    sentences_.back().ends = std::max(sentences_.back().ends, ends);
  } else {
    sentences_.push_back({std::string(text), starts, ends});
  }
  while (!sentences_.empty() && sentences_.front().ends < ends - kKeep) sentences_.pop_front();
}

std::vector<std::string> EchoGuard::SentSince(absl::Time since) const {
  std::vector<std::string> sent;
  for (const Sentence& sentence : sentences_) {
    if (sentence.ends < since) continue;
    std::vector<std::string> words = Words(sentence.text);
    const absl::Duration length = sentence.ends - sentence.starts;
    for (size_t i = 0; i < words.size(); ++i) {
      const absl::Time word_ends =
          sentence.starts + length * (static_cast<double>(i + 1) / words.size());
      if (word_ends >= since) sent.push_back(std::move(words[i]));
    }
  }
  return sent;
}

int EchoGuard::Matched(const std::vector<std::string>& heard, absl::Time speech_began) const {
  const std::vector<std::string> sent = SentSince(speech_began - kLead);
  if (heard.empty() || sent.empty()) return 0;
  // Longest common subsequence, one row at a time.
  std::vector<int> row(sent.size() + 1, 0), next(sent.size() + 1, 0);
  for (const std::string& word : heard) {
    for (size_t j = 0; j < sent.size(); ++j) {
      next[j + 1] = word == sent[j] ? row[j] + 1 : std::max(row[j + 1], next[j]);
    }
    std::swap(row, next);
  }
  return row.back();
}

bool EchoGuard::IsEcho(absl::string_view transcript, absl::Time speech_began) const {
  const std::vector<std::string> heard = Words(transcript);
  if (heard.empty()) return false;
  // Two in three: a recognizer hearing an echo through a canceller gets some words wrong.
  return 3 * Matched(heard, speech_began) >= 2 * static_cast<int>(heard.size());
}

int EchoGuard::CallerWords(absl::string_view transcript, absl::Time speech_began) const {
  const std::vector<std::string> heard = Words(transcript);
  return static_cast<int>(heard.size()) - Matched(heard, speech_began);
}

}  // namespace voxflow::orchestrator
