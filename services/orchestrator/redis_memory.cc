#include "services/orchestrator/redis_memory.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace voxflow::orchestrator {

std::string RedisMemory::Key(absl::string_view session_id) {
  return absl::StrCat("voxflow:memory:", session_id);
}

std::string ExchangeToJson(const Exchange& exchange) {
  return nlohmann::json{{"turn_id", exchange.turn_id},
                        {"user", exchange.user},
                        {"reply", exchange.reply},
                        {"interrupted", exchange.interrupted}}
      .dump();
}

absl::StatusOr<Exchange> ExchangeFromJson(absl::string_view json) {
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("turn_id") ||
      !parsed["turn_id"].is_number_integer()) {
    return absl::InternalError("redis memory: a stored exchange is not one");
  }
  Exchange exchange;
  exchange.turn_id = parsed["turn_id"].get<int>();
  exchange.user = parsed.value("user", "");
  exchange.reply = parsed.value("reply", "");
  exchange.interrupted = parsed.value("interrupted", false);
  return exchange;
}

absl::StatusOr<std::vector<Exchange>> RedisMemory::Fetch(absl::string_view session_id,
                                                         size_t max_exchanges) {
  if (max_exchanges == 0) return std::vector<Exchange>();
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"ZRANGE", Key(session_id), absl::StrCat("-", max_exchanges), "-1"});
  if (!reply.ok()) return reply.status();
  std::vector<Exchange> exchanges;
  for (const RedisReply& element : reply->elements) {
    absl::StatusOr<Exchange> exchange = ExchangeFromJson(element.text);
    if (!exchange.ok()) return exchange.status();
    exchanges.push_back(*std::move(exchange));
  }
  return exchanges;
}

absl::Status RedisMemory::Record(absl::string_view session_id, Exchange exchange) {
  const std::string key = Key(session_id);
  const std::string score = absl::StrCat(exchange.turn_id);
  // One transaction: the turn's old exchange out, the new one in, the oldest beyond the limit
  // out, the expiry renewed.
  return redis_
      ->Transaction(
          {{"ZREMRANGEBYSCORE", key, score, score},
           {"ZADD", key, score, ExchangeToJson(exchange)},
           {"ZREMRANGEBYRANK", key, "0", absl::StrCat(-1 - static_cast<int64_t>(max_exchanges_))},
           {"PEXPIRE", key, absl::StrCat(absl::ToInt64Milliseconds(ttl_))}})
      .status();
}

void RedisMemory::Forget(absl::string_view session_id) {
  (void)redis_->Command({"DEL", Key(session_id)});
}

}  // namespace voxflow::orchestrator
