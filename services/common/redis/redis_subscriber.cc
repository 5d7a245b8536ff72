#include "services/common/redis/redis_subscriber.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include <utility>

namespace voxflow {

RedisSubscriber::RedisSubscriber(RedisAddress address, std::string channel,
                                 std::function<void(const std::string&)> on_message,
                                 absl::Duration retry_after)
    : address_(std::move(address)),
      channel_(std::move(channel)),
      on_message_(std::move(on_message)),
      retry_after_(retry_after),
      thread_([this] { Run(); }) {}

RedisSubscriber::~RedisSubscriber() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (listening_ != nullptr) shutdown(listening_->fd, SHUT_RDWR);
  }
  wake_.notify_all();
  thread_.join();
}

bool RedisSubscriber::WaitUntilSubscribed(int count, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return wake_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                        [this, count] { return subscriptions_ >= count; });
}

void RedisSubscriber::Run() {
  while (true) {
    redisContext* context = redisConnectWithTimeout(address_.host.c_str(), address_.port,
                                                    absl::ToTimeval(absl::Seconds(1)));
    if (context != nullptr && context->err == 0) {
      bool stop;
      {
        std::lock_guard<std::mutex> lock(mu_);
        stop = stopping_;
        if (!stop) listening_ = context;
      }
      if (!stop) Listen(context);
      std::lock_guard<std::mutex> lock(mu_);
      listening_ = nullptr;
    }
    if (context != nullptr) redisFree(context);
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, absl::ToChronoMilliseconds(retry_after_),
                       [this] { return stopping_; })) {
      return;
    }
  }
}

void RedisSubscriber::Listen(redisContext* context) {
  const char* argv[] = {"SUBSCRIBE", channel_.c_str()};
  const size_t lengths[] = {9, channel_.size()};
  if (redisAppendCommandArgv(context, 2, argv, lengths) != REDIS_OK) return;
  while (true) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) return;
    redisReply* reply = static_cast<redisReply*>(raw);
    // ["subscribe", channel, count] once, then ["message", channel, payload] for each message.
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
        reply->element[0]->type == REDIS_REPLY_STRING) {
      const std::string kind(reply->element[0]->str, reply->element[0]->len);
      if (kind == "subscribe") {
        std::lock_guard<std::mutex> lock(mu_);
        ++subscriptions_;
        wake_.notify_all();
      } else if (kind == "message" && reply->element[2]->type == REDIS_REPLY_STRING) {
        on_message_(std::string(reply->element[2]->str, reply->element[2]->len));
      }
    }
    freeReplyObject(reply);
  }
}

}  // namespace voxflow
