#include "services/orchestrator/stages/llm_stage.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/http/retry_after.h"
#include "services/orchestrator/conversation_memory.h"
#include "services/orchestrator/llm/llm_metrics.h"
#include "services/orchestrator/llm/llm_provider.h"
#include "services/orchestrator/llm/tool_declarations.h"
#include "services/orchestrator/llm_client.h"
#include "services/orchestrator/pipeline/stream_writer.h"
#include "services/orchestrator/stages/backend_call.h"

namespace voxflow::orchestrator {
namespace {

// A caller will not sit in silence longer than this for a busy model server: past it, fail (or
// speak the fallback reply) rather than honour its Retry-After.
constexpr absl::Duration kLongestRetryAfter = absl::Seconds(5);

}  // namespace

// One attempt: alive (holding itself) from Start until `done`. The client calls on_token one at
// a time and on_done after the last, so the reply's state needs no lock.
class LlmStage::Attempt : public std::enable_shared_from_this<Attempt> {
 public:
  Attempt(LlmStage* stage, std::shared_ptr<StageContext> context, Done done)
      : stage_(stage),
        environment_(stage->environment_),
        context_(std::move(context)),
        done_(std::move(done)),
        writer_(StreamWriter::Create(context_->streams_out())) {}

  void Start() {
    const StageContext& context = *context_;
    if (environment_->text_input().has_value()) {
      user_text_ = *environment_->text_input();
    } else {
      user_text_ = context.Input(context.Parameter("transcript_from", "stt"), "transcript");
    }
    if (user_text_.empty()) {
      done_(StageResult::Skip("nothing to reply to"));
      return;
    }
    // The session's own model settings go over the pipeline's.
    std::map<std::string, std::string> parameters(context.spec().parameters().begin(),
                                                  context.spec().parameters().end());
    const v1::LlmSettings& session = environment_->config().llm();
    if (!session.system_prompt().empty()) parameters["system_prompt"] = session.system_prompt();
    if (!session.model().empty()) parameters["model"] = session.model();
    if (session.has_temperature()) parameters["temperature"] = absl::StrCat(session.temperature());
    absl::StatusOr<std::unique_ptr<LlmClient>> client = MakeLlmClient(parameters);
    if (!client.ok()) {
      done_(StageResult::Fail(client.status()));
      return;
    }
    client_ = *std::move(client);
    absl::StatusOr<std::vector<LlmTool>> tools = DeclaredTools(parameters, session);
    if (!tools.ok()) {
      done_(StageResult::Fail(tools.status()));
      return;
    }
    absl::StatusOr<absl::Duration> tool_timeout = ToolTimeout(parameters, session);
    if (!tool_timeout.ok()) {
      done_(StageResult::Fail(tool_timeout.status()));
      return;
    }

    LlmRequest request{
        user_text_, ParseHistory(context.Input(context.Parameter("memory_from", "prefetch_memory"),
                                               "history"))};
    request.tools = *std::move(tools);
    if (!request.tools.empty()) {
      std::vector<std::string> names;
      for (const LlmTool& tool : request.tools) names.push_back(tool.name);
      request.call_tool = [environment = environment_, cancel = context.cancellation(),
                           names = std::move(names), timeout = *tool_timeout](
                              const LlmToolCall& call, LlmToolAnswerSink answer) {
        if (std::find(names.begin(), names.end(), call.name) == names.end()) {
          answer(LlmToolAnswer{"", absl::StrCat("there is no tool named ", call.name)});
          return;
        }
        environment->CallTool(call, timeout, cancel, std::move(answer));
      };
    }

    self_ = shared_from_this();
    const std::shared_ptr<Attempt> keep = self_;  // A model may answer within Start.
    tokens_before_ = stage_->tokens_sent_;
    asked_ = environment_->clock().Now();
    client_->Start(
        std::move(request), [this](absl::string_view token) { OnToken(token); },
        [this](const absl::Status& status) { OnDone(status); }, context.cancellation());
  }

 private:
  void OnToken(absl::string_view token) {
    reply_.append(token.data(), token.size());
    if (token_index_++ >= stage_->tokens_sent_) {
      if (stage_->tokens_sent_++ == 0)
        LlmMetrics::ObserveFirstToken(environment_->clock().Now() - asked_);
      environment_->Mark(TurnMark::kLlmFirstToken, environment_->clock().Now());
      environment_->OnReplyText(token, /*is_final=*/false);
    }
    for (std::string& sentence : splitter_.Append(token)) StreamSentence(std::move(sentence));
  }

  void StreamSentence(std::string sentence) {
    if (sentence_index_++ < stage_->sentences_sent_) return;  // Sent by an earlier attempt.
    ++stage_->sentences_sent_;
    writer_->Write(std::move(sentence));
  }

  void OnDone(const absl::Status& status) {
    const LlmReport report = client_->last_report();
    if (report.usage.has_value()) LlmMetrics::CountTokens(*report.usage);
    environment_->OnLlmReport(report);
    Finish(Result(status));
  }

  StageResult Result(const absl::Status& status) {
    const StageContext& context = *context_;
    if (status.ok()) {
      if (std::string rest = splitter_.Flush(); !rest.empty()) StreamSentence(std::move(rest));
      environment_->OnReplyText("", /*is_final=*/true);
      return StageResult::Ok({{"user_text", user_text_}, {"reply", reply_}});
    }
    if (context.cancelled()) return StageResult::Cancel(status.message(), {{"reply", reply_}});
    // Once the caller has this attempt's words, a retry would say something else: keep what
    // was said and fail (the turn lists llm_failed). Before any, retry per the stage's policy,
    // waiting as long as the server asked.
    const bool said_something = stage_->tokens_sent_ > tokens_before_;
    const std::optional<absl::Duration> wait = RetryAfter(status);
    const bool can_retry = !said_something && IsRetryable(status.code()) &&
                           context.attempt() < std::max(context.spec().retry().max_attempts(), 1) &&
                           (!wait.has_value() || *wait <= kLongestRetryAfter);
    if (can_retry) return StageResult::Retry(status, wait.value_or(absl::ZeroDuration()));
    const std::string fallback = context.Parameter("fallback_reply");
    if (said_something || fallback.empty()) {
      environment_->OnReplyText("", /*is_final=*/true);
      return StageResult::Fail(status);
    }
    // The model is out of reach: say so rather than nothing, and tell the caller why.
    environment_->OnDegraded(
        context.spec().name(), absl::StrCat(context.spec().name(), "_failed"),
        absl::Status(status.code(),
                     absl::StrCat(status.message(), " (after ", context.attempt(),
                                  context.attempt() == 1 ? " attempt)" : " attempts)")));
    environment_->Mark(TurnMark::kLlmFirstToken, environment_->clock().Now());
    environment_->OnReplyText(fallback, /*is_final=*/false);
    environment_->OnReplyText("", /*is_final=*/true);
    StreamSentence(fallback);
    return StageResult::Ok({{"user_text", user_text_}, {"reply", fallback}});
  }

  // The stage ends once its sentences are in the edges (the edges close when it ends). A cancel
  // drops those still waiting for room: their consumer reads no more.
  // Nothing touches the context once done_ is called.
  void Finish(StageResult result) {
    std::weak_ptr<StreamWriter> writer = writer_;
    context_->cancellation()->OnCancel([writer](const absl::Status&) {
      if (auto w = writer.lock()) w->Abandon();
    });
    auto self = std::move(self_);
    writer_->WhenFlushed(
        [self, result = std::move(result)]() mutable { self->done_(std::move(result)); });
  }

  LlmStage* const stage_;
  TurnEnvironment* const environment_;
  const std::shared_ptr<StageContext> context_;
  Done done_;
  const std::shared_ptr<StreamWriter> writer_;
  std::unique_ptr<LlmClient> client_;
  std::shared_ptr<Attempt> self_;
  std::string user_text_;
  std::string reply_;
  SentenceSplitter splitter_;
  size_t token_index_ = 0;
  size_t sentence_index_ = 0;
  size_t tokens_before_ = 0;
  absl::Time asked_;
};

void LlmStage::Start(std::shared_ptr<StageContext> context, Done done) {
  std::make_shared<Attempt>(this, std::move(context), std::move(done))->Start();
}

}  // namespace voxflow::orchestrator
