#include "services/orchestrator/resumption/redis_session_state_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace voxflow::orchestrator {
namespace {

// KEYS[1] the record; ARGV: owner, ttl ms. 1 created, 0 kept already.
constexpr char kCreate[] = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'started', 0, 'completed', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
)lua";

// ARGV: new owner, ttl ms, channel, message. The record as it was, or nil.
constexpr char kTakeOver[] = R"lua(
local record = redis.call('HMGET', KEYS[1], 'owner', 'started', 'completed')
if not record[1] then return false end
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return record
)lua";

// ARGV: owner, started, completed, ttl ms. 1 saved, 0 another owner, -1 no record.
constexpr char kSave[] = R"lua(
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return -1 end
if owner ~= ARGV[1] then return 0 end
local started = math.max(tonumber(redis.call('HGET', KEYS[1], 'started')), tonumber(ARGV[2]))
local completed = math.max(tonumber(redis.call('HGET', KEYS[1], 'completed')), tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'started', started, 'completed', completed)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
)lua";

// ARGV: owner, started, completed, ttl ms. Written unless another owner has the record.
constexpr char kRestore[] = R"lua(
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'started', ARGV[2], 'completed', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
)lua";

// ARGV: owner.
constexpr char kForget[] = R"lua(
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
)lua";

int ToInt(const RedisReply& reply) {
  int value = 0;
  if (reply.type == RedisReply::Type::kInteger) return static_cast<int>(reply.integer);
  (void)absl::SimpleAtoi(reply.text, &value);
  return value;
}

}  // namespace

std::string TakeOverMessage(const std::string& id, const std::string& owner) {
  return absl::StrCat(id, "\n", owner);
}

bool ParseTakeOverMessage(const std::string& message, std::string* id, std::string* owner) {
  const size_t newline = message.find('\n');
  if (newline == std::string::npos || newline == 0) return false;
  *id = message.substr(0, newline);
  *owner = message.substr(newline + 1);
  return true;
}

std::string RedisSessionStateStore::TtlMs() const {
  return absl::StrCat(absl::ToInt64Milliseconds(ttl_));
}

absl::Status RedisSessionStateStore::Create(const std::string& id, const std::string& owner) {
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"EVAL", kCreate, "1", Key(id), owner, TtlMs()});
  if (!reply.ok()) return reply.status();
  if (reply->integer == 0)
    return absl::AlreadyExistsError(absl::StrCat("session ", id, " is kept"));
  return absl::OkStatus();
}

absl::StatusOr<SessionRecord> RedisSessionStateStore::TakeOver(const std::string& id,
                                                               const std::string& owner) {
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"EVAL", kTakeOver, "1", Key(id), owner, TtlMs(), kTakeOverChannel,
                       TakeOverMessage(id, owner)});
  if (!reply.ok()) return reply.status();
  if (reply->type != RedisReply::Type::kArray || reply->elements.size() != 3) {
    return absl::NotFoundError(absl::StrCat("no session ", id));
  }
  SessionRecord record;
  record.owner = reply->elements[0].text;
  record.last_turn_started = ToInt(reply->elements[1]);
  record.last_turn_completed = ToInt(reply->elements[2]);
  return record;
}

absl::Status RedisSessionStateStore::Save(const std::string& id, const std::string& owner,
                                          const SessionRecord& counters) {
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"EVAL", kSave, "1", Key(id), owner, absl::StrCat(counters.last_turn_started),
                       absl::StrCat(counters.last_turn_completed), TtlMs()});
  if (!reply.ok()) return reply.status();
  if (reply->integer == 0)
    return absl::AbortedError(absl::StrCat("session ", id, " was taken over"));
  if (reply->integer < 0) return absl::NotFoundError(absl::StrCat("no session ", id));
  return absl::OkStatus();
}

absl::Status RedisSessionStateStore::Restore(const std::string& id, const SessionRecord& record) {
  absl::StatusOr<RedisReply> reply = redis_->Command(
      {"EVAL", kRestore, "1", Key(id), record.owner, absl::StrCat(record.last_turn_started),
       absl::StrCat(record.last_turn_completed), TtlMs()});
  if (!reply.ok()) return reply.status();
  if (reply->integer == 0)
    return absl::AbortedError(absl::StrCat("session ", id, " was taken over"));
  return absl::OkStatus();
}

void RedisSessionStateStore::Forget(const std::string& id, const std::string& owner) {
  (void)redis_->Command({"EVAL", kForget, "1", Key(id), owner});
}

}  // namespace voxflow::orchestrator
