#include "services/orchestrator/stages/conversation_stages.h"

#include <algorithm>
#include <map>
#include <system_error>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/logging.h"
#include "services/orchestrator/backend.h"
#include "services/orchestrator/llm/llm_metrics.h"
#include "services/orchestrator/llm/llm_provider.h"
#include "services/orchestrator/llm/retry_after.h"
#include "services/orchestrator/llm/tool_declarations.h"
#include "services/orchestrator/llm_client.h"
#include "services/orchestrator/stages/backend_call.h"
#include "services/orchestrator/stages/stt_stage.h"
#include "services/orchestrator/stages/tts_stage.h"

namespace voxflow::orchestrator {

namespace {

// A caller will not sit in silence longer than this for a busy model server: past it, fail (or
// speak the fallback reply) rather than honour its Retry-After.
constexpr absl::Duration kLongestRetryAfter = absl::Seconds(5);

}  // namespace

void LlmStage::Start(std::shared_ptr<StageContext> context, Done done) {
  // Only the rule model without delays answers at once (with a bad parameter, it fails at once).
  const std::string provider = context->Parameter("provider", "rule");
  const absl::StatusOr<RuleLlmClient::Options> rule = RuleLlmClient::OptionsFromParameters(
      {context->spec().parameters().begin(), context->spec().parameters().end()});
  const bool waits = (provider != "rule" && !provider.empty()) ||
                     (rule.ok() && (rule->token_delay > absl::ZeroDuration() ||
                                    rule->first_token_delay > absl::ZeroDuration()));
  if (!waits) {
    done(Reply(*context));
    return;
  }
  try {
    std::thread([this, log = CurrentLogContext(), context = std::move(context),
                 done = std::move(done)] {
      ScopedLogContext log_context(log);
      done(Reply(*context));
    }).detach();
  } catch (const std::system_error& error) {
    done(StageResult::Fail(absl::ResourceExhaustedError(
        absl::StrCat("cannot start a thread for the llm stage: ", error.what()))));
  }
}

StageResult LlmStage::Reply(StageContext& context) {
  std::string user_text;
  if (environment_->text_input().has_value()) {
    user_text = *environment_->text_input();
  } else {
    user_text = context.Input(context.Parameter("transcript_from", "stt"), "transcript");
  }
  if (user_text.empty()) return StageResult::Skip("nothing to reply to");

  // The session's own model settings go over the pipeline's.
  std::map<std::string, std::string> parameters(context.spec().parameters().begin(),
                                                context.spec().parameters().end());
  const v1::LlmSettings& session = environment_->config().llm();
  if (!session.system_prompt().empty()) parameters["system_prompt"] = session.system_prompt();
  if (!session.model().empty()) parameters["model"] = session.model();
  if (session.has_temperature()) parameters["temperature"] = absl::StrCat(session.temperature());
  absl::StatusOr<std::unique_ptr<LlmClient>> client = MakeLlmClient(parameters);
  if (!client.ok()) return StageResult::Fail(client.status());
  absl::StatusOr<std::vector<LlmTool>> tools = DeclaredTools(parameters, session);
  if (!tools.ok()) return StageResult::Fail(tools.status());
  absl::StatusOr<absl::Duration> tool_timeout = ToolTimeout(parameters, session);
  if (!tool_timeout.ok()) return StageResult::Fail(tool_timeout.status());

  LlmRequest request{
      user_text,
      ParseHistory(context.Input(context.Parameter("memory_from", "prefetch_memory"), "history"))};
  request.tools = *std::move(tools);
  if (!request.tools.empty()) {
    request.call_tool = [this, &request, &context,
                         timeout = *tool_timeout](const LlmToolCall& call) {
      const bool declared = std::any_of(request.tools.begin(), request.tools.end(),
                                        [&](const LlmTool& t) { return t.name == call.name; });
      if (!declared) return LlmToolAnswer{"", absl::StrCat("there is no tool named ", call.name)};
      std::optional<LlmToolAnswer> answer =
          environment_->CallTool(call, timeout, *context.cancellation());
      return answer.value_or(LlmToolAnswer{"", "cancelled"});
    };
  }

  SentenceSplitter splitter;
  size_t token_index = 0;
  size_t sentence_index = 0;
  std::string reply;
  auto stream_sentence = [&](std::string sentence) {
    if (sentence_index++ < sentences_sent_) return;  // Sent by an earlier attempt.
    ++sentences_sent_;
    context.StreamOut(std::move(sentence));
  };
  const size_t tokens_before = tokens_sent_;
  const absl::Time asked = absl::Now();
  const absl::Status status = (*client)->Generate(
      request,
      [&](absl::string_view token) {
        reply.append(token.data(), token.size());
        if (token_index++ >= tokens_sent_) {
          if (tokens_sent_++ == 0) LlmMetrics::ObserveFirstToken(absl::Now() - asked);
          environment_->Mark(TurnMark::kLlmFirstToken, absl::Now());
          environment_->OnReplyText(token, /*is_final=*/false);
        }
        for (std::string& sentence : splitter.Append(token)) stream_sentence(std::move(sentence));
      },
      *context.cancellation());
  const LlmReport report = (*client)->last_report();
  if (report.usage.has_value()) LlmMetrics::CountTokens(*report.usage);
  environment_->OnLlmReport(report);
  if (!status.ok()) {
    if (context.cancelled()) return StageResult::Cancel(status.message(), {{"reply", reply}});
    // Once the caller has this attempt's words, a retry would say something else: keep what
    // was said and fail (the turn lists llm_failed). Before any, retry per the stage's policy,
    // waiting as long as the server asked.
    const bool said_something = tokens_sent_ > tokens_before;
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
    environment_->Mark(TurnMark::kLlmFirstToken, absl::Now());
    environment_->OnReplyText(fallback, /*is_final=*/false);
    environment_->OnReplyText("", /*is_final=*/true);
    stream_sentence(fallback);
    return StageResult::Ok({{"user_text", user_text}, {"reply", fallback}});
  }
  if (std::string rest = splitter.Flush(); !rest.empty()) stream_sentence(std::move(rest));
  environment_->OnReplyText("", /*is_final=*/true);
  return StageResult::Ok({{"user_text", user_text}, {"reply", reply}});
}

StageResult MemoryFetchStage::Fetch(StageContext& context) {
  int max_exchanges = 20;
  if (!absl::SimpleAtoi(context.Parameter("max_exchanges", "20"), &max_exchanges) ||
      max_exchanges < 0) {
    return StageResult::Fail(
        absl::InvalidArgumentError("memory_fetch parameter max_exchanges must be >= 0"));
  }
  absl::StatusOr<std::vector<Exchange>> history =
      memory_->Fetch(environment_->session_id(), static_cast<size_t>(max_exchanges));
  if (!history.ok()) return StageResult::Fail(history.status());
  return StageResult::Ok(
      {{"history", FormatHistory(*history)}, {"exchanges", absl::StrCat(history->size())}});
}

StageResult MemoryWriteStage::Write(StageContext& context) {
  const std::string from = context.Parameter("from", "llm");
  const DependencyResult* source = context.dependency(from);
  if (source == nullptr || source->outcome != StageOutcome::kOk) {
    return StageResult::Skip(absl::StrCat("no reply from '", from, "' to save"));
  }
  const std::string reply = context.Input(from, "reply");
  if (reply.empty()) return StageResult::Skip("empty reply");
  Exchange exchange{environment_->turn_id(), context.Input(from, "user_text"), reply, false};
  if (absl::Status status = memory_->Record(environment_->session_id(), std::move(exchange));
      !status.ok()) {
    return StageResult::Fail(status);
  }
  return StageResult::Ok({{"saved_turn", absl::StrCat(environment_->turn_id())}});
}

StageFactories MakeStageFactories(TurnEnvironment* environment, const Backend* stt,
                                  const Backend* tts, ConversationMemory* memory) {
  StageFactories factories;
  factories["stt"] = [=](const v1::StageSpec&) {
    return std::make_unique<SttStage>(environment, stt);
  };
  factories["tts"] = [=](const v1::StageSpec&) {
    return std::make_unique<TtsStage>(environment, tts);
  };
  factories["llm"] = [=](const v1::StageSpec&) { return std::make_unique<LlmStage>(environment); };
  factories["memory_fetch"] = [=](const v1::StageSpec&) {
    return std::make_unique<MemoryFetchStage>(environment, memory);
  };
  factories["memory_write"] = [=](const v1::StageSpec&) {
    return std::make_unique<MemoryWriteStage>(environment, memory);
  };
  return factories;
}

const std::set<std::string>& BuiltInStageTypes() {
  static const std::set<std::string>* const types =
      new std::set<std::string>{"stt", "tts", "llm", "memory_fetch", "memory_write"};
  return *types;
}

}  // namespace voxflow::orchestrator
