#include "services/orchestrator/conversation_memory.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace voxflow::orchestrator {

absl::StatusOr<std::vector<Exchange>> InProcessMemory::Fetch(absl::string_view session_id,
                                                             size_t max_exchanges) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return std::vector<Exchange>();
  const std::deque<Exchange>& all = it->second;
  const size_t n = std::min(max_exchanges, all.size());
  return std::vector<Exchange>(all.end() - static_cast<std::ptrdiff_t>(n), all.end());
}

absl::Status InProcessMemory::Record(absl::string_view session_id, Exchange exchange) {
  std::lock_guard<std::mutex> lock(mu_);
  std::deque<Exchange>& all = sessions_[std::string(session_id)];
  for (Exchange& existing : all) {
    if (existing.turn_id == exchange.turn_id) {
      existing = std::move(exchange);
      return absl::OkStatus();
    }
  }
  all.push_back(std::move(exchange));
  while (all.size() > max_exchanges_) all.pop_front();
  return absl::OkStatus();
}

void InProcessMemory::Forget(absl::string_view session_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(session_id);
  if (it != sessions_.end()) sessions_.erase(it);
}

namespace {
std::string OneLine(absl::string_view text) { return absl::StrReplaceAll(text, {{"\n", " "}}); }
}  // namespace

std::string FormatHistory(const std::vector<Exchange>& exchanges) {
  std::string out;
  for (const Exchange& exchange : exchanges) {
    absl::StrAppend(&out, "turn: ", exchange.turn_id, exchange.interrupted ? " interrupted" : "",
                    "\nuser: ", OneLine(exchange.user), "\nassistant: ", OneLine(exchange.reply),
                    "\n");
  }
  return out;
}

std::vector<Exchange> ParseHistory(absl::string_view text) {
  std::vector<Exchange> exchanges;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "turn: ")) {
      Exchange exchange;
      exchange.interrupted = absl::ConsumeSuffix(&line, " interrupted");
      if (!absl::SimpleAtoi(line, &exchange.turn_id)) exchange.turn_id = 0;
      exchanges.push_back(std::move(exchange));
    } else if (!exchanges.empty() && absl::ConsumePrefix(&line, "user: ")) {
      exchanges.back().user = std::string(line);
    } else if (!exchanges.empty() && absl::ConsumePrefix(&line, "assistant: ")) {
      exchanges.back().reply = std::string(line);
    }
  }
  return exchanges;
}

}  // namespace voxflow::orchestrator
