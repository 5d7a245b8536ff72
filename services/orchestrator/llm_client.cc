#include "services/orchestrator/llm_client.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "services/common/timer_queue.h"

namespace voxflow::orchestrator {

absl::StatusOr<RuleLlmClient::Options> RuleLlmClient::OptionsFromParameters(
    const std::map<std::string, std::string>& parameters) {
  Options options;
  for (const auto& [key, value] : parameters) {
    absl::string_view name = key;
    if (absl::ConsumePrefix(&name, "rule.")) {
      options.rules.emplace_back(absl::AsciiStrToLower(name), value);
    } else if (key == "default") {
      options.fallback = value;
    } else if (key == "token_delay_ms" || key == "first_token_delay_ms") {
      int ms = 0;
      if (!absl::SimpleAtoi(value, &ms) || ms < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "llm parameter ", key, " must be a non-negative integer, got '", value, "'"));
      }
      (key == "token_delay_ms" ? options.token_delay : options.first_token_delay) =
          absl::Milliseconds(ms);
    }
  }
  return options;
}

std::string RuleLlmClient::Reply(const LlmRequest& request) const {
  const std::string text = absl::AsciiStrToLower(request.user_text);
  std::string reply = options_.fallback;
  for (const auto& [words, answer] : options_.rules) {
    if (absl::StrContains(text, words)) {
      reply = answer;
      break;
    }
  }
  const std::string previous =
      request.history.empty() ? "nothing yet" : request.history.back().user;
  const std::string previous_reply =
      request.history.empty() ? "nothing yet" : request.history.back().reply;
  return absl::StrReplaceAll(reply, {{"{transcript}", request.user_text},
                                     {"{previous}", previous},
                                     {"{previous_reply}", previous_reply},
                                     {"{turn}", absl::StrCat(request.history.size() + 1)}});
}

namespace {

// Words with their trailing space.
std::vector<std::string> WordTokens(const std::string& reply) {
  std::vector<std::string> tokens;
  size_t start = 0;
  while (start < reply.size()) {
    size_t end = reply.find(' ', start);
    end = end == std::string::npos ? reply.size() : end + 1;
    tokens.push_back(reply.substr(start, end - start));
    start = end;
  }
  return tokens;
}

// A reply paced by timers: each token is its own timer, a cancel ends it at once. No token is
// delivered after on_done: a cancel from another thread waits for the one being delivered.
class PacedReply : public std::enable_shared_from_this<PacedReply> {
 public:
  PacedReply(std::vector<std::string> tokens, absl::Duration first_delay, absl::Duration delay,
             LlmTokenSink on_token, LlmDone on_done, std::shared_ptr<CancellationToken> cancel)
      : tokens_(std::move(tokens)),
        first_delay_(first_delay),
        delay_(delay),
        on_token_(std::move(on_token)),
        cancel_(std::move(cancel)),
        on_done_(std::move(on_done)) {}

  void Start() {
    std::weak_ptr<PacedReply> weak = weak_from_this();
    const int64_t id = cancel_->OnCancel([weak](const absl::Status& reason) {
      if (auto self = weak.lock()) self->Finish(reason, /*from_cancel=*/true);
    });
    std::lock_guard<std::mutex> lock(mu_);
    cancel_callback_ = id;
    if (finished_) return;       // Cancelled already.
    self_ = shared_from_this();  // Until finished.
    ScheduleLocked(first_delay_);
  }

 private:
  void ScheduleLocked(absl::Duration delay) {
    std::weak_ptr<PacedReply> weak = weak_from_this();
    timer_ = TimerQueue::Default().Schedule(absl::Now() + delay, [weak] {
      if (auto self = weak.lock()) self->Next();
    });
  }

  // On the timer thread.
  void Next() {
    std::unique_lock<std::mutex> lock(mu_);
    if (finished_) return;
    if (next_ < tokens_.size()) {
      emitter_ = std::this_thread::get_id();
      const std::string& token = tokens_[next_++];
      lock.unlock();
      on_token_(token);
      lock.lock();
      emitter_ = std::thread::id();
      delivered_.notify_all();
      if (finished_) return;  // Cancelled meanwhile: that Finish called on_done.
      if (next_ < tokens_.size()) {
        ScheduleLocked(delay_);
        return;
      }
    }
    lock.unlock();
    Finish(absl::OkStatus(), /*from_cancel=*/false);
  }

  void Finish(const absl::Status& status, bool from_cancel) {
    LlmDone done;
    int64_t timer;
    std::shared_ptr<PacedReply> keep;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
      done = std::move(on_done_);
      timer = timer_;
      keep = std::move(self_);
      const std::thread::id me = std::this_thread::get_id();
      delivered_.wait(lock, [&] { return emitter_ == std::thread::id() || emitter_ == me; });
    }
    TimerQueue::Default().Cancel(timer);  // From its own callback: returns at once.
    if (!from_cancel) cancel_->RemoveCallback(cancel_callback_);
    done(status);
  }

  const std::vector<std::string> tokens_;
  const absl::Duration first_delay_;
  const absl::Duration delay_;
  const LlmTokenSink on_token_;
  const std::shared_ptr<CancellationToken> cancel_;
  std::mutex mu_;
  std::condition_variable delivered_;
  LlmDone on_done_;
  size_t next_ = 0;
  std::thread::id emitter_;  // Delivering a token now.
  bool finished_ = false;
  int64_t timer_ = 0;
  int64_t cancel_callback_ = -1;
  std::shared_ptr<PacedReply> self_;
};

}  // namespace

absl::Status LlmClient::Generate(LlmRequest request, LlmTokenSink on_token,
                                 std::shared_ptr<CancellationToken> cancel) {
  std::mutex mu;
  std::condition_variable finished;
  std::optional<absl::Status> result;
  Start(
      std::move(request), std::move(on_token),
      [&](const absl::Status& status) {
        std::lock_guard<std::mutex> lock(mu);
        result = status;
        finished.notify_all();
      },
      std::move(cancel));
  std::unique_lock<std::mutex> lock(mu);
  finished.wait(lock, [&] { return result.has_value(); });
  return *result;
}

void RuleLlmClient::Start(LlmRequest request, LlmTokenSink on_token, LlmDone on_done,
                          std::shared_ptr<CancellationToken> cancel) {
  std::vector<std::string> tokens = WordTokens(Reply(request));
  if (options_.first_token_delay == absl::ZeroDuration() &&
      options_.token_delay == absl::ZeroDuration()) {
    for (const std::string& token : tokens) {
      if (cancel->cancelled()) break;
      on_token(token);
    }
    on_done(cancel->reason());
    return;
  }
  std::make_shared<PacedReply>(std::move(tokens), options_.first_token_delay, options_.token_delay,
                               std::move(on_token), std::move(on_done), std::move(cancel))
      ->Start();
}

std::vector<std::string> SentenceSplitter::Append(absl::string_view text) {
  absl::StrAppend(&pending_, text);
  std::vector<std::string> sentences;
  size_t from = 0;
  for (size_t i = 0; i + 1 < pending_.size(); ++i) {
    const char c = pending_[i];
    if ((c == '.' || c == '!' || c == '?') && absl::ascii_isspace(pending_[i + 1])) {
      std::string sentence(
          absl::StripAsciiWhitespace(absl::string_view(pending_).substr(from, i + 1 - from)));
      if (!sentence.empty()) sentences.push_back(std::move(sentence));
      from = i + 1;
    }
  }
  pending_.erase(0, from);
  return sentences;
}

std::string SentenceSplitter::Flush() {
  std::string rest(absl::StripAsciiWhitespace(pending_));
  pending_.clear();
  return rest;
}

}  // namespace voxflow::orchestrator
