#include "services/common/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace voxflow {
namespace {

// A reply, or INTERNAL for an error reply (anywhere in it).
absl::StatusOr<RedisReply> Convert(const redisReply* reply) {
  RedisReply out;
  switch (reply->type) {
    case REDIS_REPLY_ERROR:
      return absl::InternalError(
          absl::StrCat("redis: ", absl::string_view(reply->str, reply->len)));
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kString;
      out.text.assign(reply->str, reply->len);
      return out;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = reply->integer;
      return out;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < reply->elements; ++i) {
        absl::StatusOr<RedisReply> element = Convert(reply->element[i]);
        if (!element.ok()) return element.status();
        out.elements.push_back(*std::move(element));
      }
      return out;
    default:
      return out;  // Nil.
  }
}

}  // namespace

std::string RedisAddress::ToString() const { return absl::StrCat(host, ":", port); }

absl::StatusOr<RedisAddress> ParseRedisUrl(absl::string_view url, absl::string_view field) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", why, " (expected redis://HOST:PORT, got \"", url, "\")"));
  };
  constexpr absl::string_view kScheme = "redis://";
  if (!absl::StartsWith(url, kScheme)) return invalid("not a redis:// address");
  absl::string_view rest = url.substr(kScheme.size());
  if (absl::EndsWith(rest, "/")) rest.remove_suffix(1);
  RedisAddress address;
  if (const size_t colon = rest.rfind(':'); colon != absl::string_view::npos) {
    if (!absl::SimpleAtoi(rest.substr(colon + 1), &address.port) || address.port <= 0 ||
        address.port > 65535) {
      return invalid("the port is not a number in 1..65535");
    }
    rest = rest.substr(0, colon);
  }
  if (rest.empty() || absl::StrContains(rest, "/") || absl::StrContains(rest, "@")) {
    return invalid("no host");
  }
  address.host = std::string(rest);
  return address;
}

RedisClient::RedisClient(RedisAddress address, Options options)
    : address_(std::move(address)), options_(std::move(options)) {}

RedisClient::~RedisClient() {
  for (redisContext* context : idle_) redisFree(context);
}

absl::StatusOr<redisContext*> RedisClient::Acquire(bool* reused) {
  *reused = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (options_.now() < down_until_) {
      return absl::UnavailableError(
          absl::StrCat("redis at ", address_.ToString(), " is down (retried shortly)"));
    }
    if (!idle_.empty()) {
      redisContext* context = idle_.back();
      idle_.pop_back();
      *reused = true;
      return context;
    }
  }
  redisContext* context = redisConnectWithTimeout(address_.host.c_str(), address_.port,
                                                  absl::ToTimeval(options_.connect_timeout));
  if (context == nullptr || context->err != 0) return Fail(context, "cannot connect");
  if (redisSetTimeout(context, absl::ToTimeval(options_.command_timeout)) != REDIS_OK) {
    return Fail(context, "cannot set a timeout");
  }
  return context;
}

void RedisClient::Release(redisContext* context) {
  std::lock_guard<std::mutex> lock(mu_);
  if (static_cast<int>(idle_.size()) < options_.max_idle_connections) {
    idle_.push_back(context);
    return;
  }
  redisFree(context);
}

absl::Status RedisClient::Fail(redisContext* context, absl::string_view what) {
  std::string detail = context == nullptr ? "no memory" : context->err != 0 ? context->errstr : "";
  if (context != nullptr) redisFree(context);
  std::lock_guard<std::mutex> lock(mu_);
  down_until_ = options_.now() + options_.retry_after;
  return absl::UnavailableError(
      absl::StrCat("redis at ", address_.ToString(), ": ", what, ": ", detail));
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Run(
    const std::vector<std::vector<std::string>>& commands) {
  while (true) {
    bool reused = false;
    absl::StatusOr<redisContext*> acquired = Acquire(&reused);
    if (!acquired.ok()) return acquired.status();
    redisContext* context = *acquired;
    Connection connection = Connection::kUsable;
    absl::StatusOr<std::vector<RedisReply>> replies = RunOn(context, commands, &connection);
    if (connection == Connection::kUsable) {
      Release(context);
      return replies;
    }
    if (!reused || connection == Connection::kBroken) {
      return Fail(context, replies.status().message());
    }
    // An idle connection the server closed (it restarted, or timed the connection out): try a
    // new one.
    redisFree(context);
  }
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::RunOn(
    redisContext* context, const std::vector<std::vector<std::string>>& commands,
    Connection* connection) {
  *connection = Connection::kUsable;
  for (const std::vector<std::string>& words : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& word : words) {
      argv.push_back(word.data());
      lengths.push_back(word.size());
    }
    if (redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK) {
      *connection = Connection::kBrokeBeforeAnyReply;
      return absl::UnavailableError("cannot send");
    }
  }
  // Every reply is read, even after an error reply, so that the connection stays in step.
  std::vector<RedisReply> replies;
  absl::Status error;
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
      *connection = i == 0 ? Connection::kBrokeBeforeAnyReply : Connection::kBroken;
      return absl::UnavailableError("no answer");
    }
    redisReply* reply = static_cast<redisReply*>(raw);
    absl::StatusOr<RedisReply> converted = Convert(reply);
    freeReplyObject(reply);
    if (!converted.ok()) {
      if (error.ok()) error = converted.status();
      continue;
    }
    replies.push_back(*std::move(converted));
  }
  if (!error.ok()) return error;
  return replies;
}

absl::StatusOr<RedisReply> RedisClient::Command(const std::vector<std::string>& words) {
  absl::StatusOr<std::vector<RedisReply>> replies = Run({words});
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Transaction(
    const std::vector<std::vector<std::string>>& commands) {
  std::vector<std::vector<std::string>> wrapped;
  wrapped.reserve(commands.size() + 2);
  wrapped.push_back({"MULTI"});
  wrapped.insert(wrapped.end(), commands.begin(), commands.end());
  wrapped.push_back({"EXEC"});
  absl::StatusOr<std::vector<RedisReply>> replies = Run(wrapped);
  if (!replies.ok()) return replies.status();
  const RedisReply& exec = replies->back();
  if (exec.type != RedisReply::Type::kArray) {
    return absl::AbortedError("redis: the transaction was not run");
  }
  return exec.elements;
}

}  // namespace voxflow
