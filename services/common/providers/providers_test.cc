#include <optional>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/http/retry_after.h"
#include "services/common/providers/circuit_breaker.h"
#include "services/common/providers/provider_chain.h"
#include "services/common/providers/retry_policy.h"
#include "services/common/providers/served_provider.h"

namespace voxflow {
namespace {

using State = CircuitBreaker::State;

struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1000);
  CircuitBreaker::Clock AsClock() {
    return [this] { return now; };
  }
};

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresThenProbesAfterCooldown) {
  FakeClock clock;
  std::vector<std::pair<State, State>> changes;
  CircuitBreaker breaker({.failures_to_open = 3, .cooldown = absl::Seconds(30)}, clock.AsClock(),
                         [&](State from, State to) { changes.emplace_back(from, to); });
  breaker.RecordFailure();
  breaker.RecordSuccess();  // Not in a row.
  breaker.RecordFailure();
  breaker.RecordFailure();
  EXPECT_TRUE(breaker.Allow());
  breaker.RecordFailure();
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_FALSE(breaker.Allow());
  clock.now += absl::Seconds(29);
  EXPECT_FALSE(breaker.Allow());
  clock.now += absl::Seconds(1);
  EXPECT_TRUE(breaker.Allow());   // The probe.
  EXPECT_FALSE(breaker.Allow());  // Only one at a time.
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
  breaker.RecordFailure();  // The probe failed: open again, for a whole cool-down.
  EXPECT_EQ(breaker.state(), State::kOpen);
  clock.now += absl::Seconds(10);
  EXPECT_FALSE(breaker.Allow());
  clock.now += absl::Seconds(20);
  EXPECT_TRUE(breaker.Allow());
  breaker.RecordSuccess();
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.Allow());
  EXPECT_THAT(changes, ::testing::ElementsAre(std::pair(State::kClosed, State::kOpen),
                                              std::pair(State::kOpen, State::kHalfOpen),
                                              std::pair(State::kHalfOpen, State::kOpen),
                                              std::pair(State::kOpen, State::kHalfOpen),
                                              std::pair(State::kHalfOpen, State::kClosed)));
}

TEST(ProviderChainTest, StartsAtTheRequestedProviderAndFallsBackInOrder) {
  FakeClock clock;
  ProviderChain chain("stt", {"openai", "other", "pocketsphinx"}, {}, clock.AsClock());
  EXPECT_EQ(chain.First(""), 0u);
  EXPECT_EQ(chain.First("other"), 1u);
  EXPECT_EQ(chain.First("pocketsphinx"), 2u);
  EXPECT_EQ(chain.Next(0), 1u);
  EXPECT_EQ(chain.Next(1), 2u);
  EXPECT_EQ(chain.Next(2), std::nullopt);
}

TEST(ProviderChainTest, SkipsAnOpenBreakerButNeverTheLastProvider) {
  FakeClock clock;
  ProviderChain chain("tts", {"openai", "espeak-ng"},
                      {.failures_to_open = 2, .cooldown = absl::Seconds(5)}, clock.AsClock());
  for (int i = 0; i < 2; ++i) chain.RecordFailure(0, absl::UnavailableError("down"), 1);
  EXPECT_EQ(chain.breaker_state(0), State::kOpen);
  EXPECT_EQ(chain.First(""), 1u);
  EXPECT_EQ(chain.First("openai"), 1u);
  // The last one serves even when its own breaker is open: nothing else could.
  for (int i = 0; i < 2; ++i) chain.RecordFailure(1, absl::UnavailableError("down"), std::nullopt);
  EXPECT_EQ(chain.First(""), 1u);
  clock.now += absl::Seconds(5);
  EXPECT_EQ(chain.First(""), 0u);  // The probe.
  chain.RecordSuccess(0);
  EXPECT_EQ(chain.breaker_state(0), State::kClosed);
}

TEST(ProviderChainTest, CancelledRequestsDoNotCountAgainstAProvider) {
  FakeClock clock;
  ProviderChain chain("stt", {"openai", "pocketsphinx"}, {.failures_to_open = 1}, clock.AsClock());
  chain.RecordFailure(0, absl::CancelledError("caller gone"), std::nullopt);
  EXPECT_EQ(chain.breaker_state(0), State::kClosed);
}

TEST(ProviderChainTest, RefusesAnUnknownProviderQuotedAndCut) {
  FakeClock clock;
  ProviderChain chain("stt", {"openai", "pocketsphinx"}, {}, clock.AsClock());
  EXPECT_TRUE(CheckServedProvider("", chain.names()).ok());
  EXPECT_TRUE(CheckServedProvider("pocketsphinx", chain.names()).ok());
  const absl::Status status = CheckServedProvider(std::string(65536, 'x'), chain.names());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), ::testing::HasSubstr("config.provider 'xxx"));
  EXPECT_THAT(status.message(), ::testing::HasSubstr("openai, pocketsphinx"));
  EXPECT_LT(status.message().size(), 300u);
}

TEST(RetryPolicyTest, RetriesWhatMayChangeWithinTheBudget) {
  const RetryPolicy policy{
      .max_retries = 2, .budget = absl::Milliseconds(1500), .backoff = absl::Milliseconds(100)};
  EXPECT_EQ(RetryDelay(policy, absl::UnavailableError("500"), 1, absl::ZeroDuration()),
            absl::Milliseconds(100));
  EXPECT_EQ(RetryDelay(policy, absl::DeadlineExceededError("t"), 2, absl::Milliseconds(100)),
            absl::Milliseconds(200));
  EXPECT_EQ(RetryDelay(policy, absl::UnavailableError("500"), 3, absl::ZeroDuration()),
            std::nullopt);
  EXPECT_EQ(RetryDelay(policy, absl::UnauthenticatedError("401"), 1, absl::ZeroDuration()),
            std::nullopt);
  EXPECT_EQ(RetryDelay(policy, absl::PermissionDeniedError("403"), 1, absl::ZeroDuration()),
            std::nullopt);
  absl::Status too_many = absl::ResourceExhaustedError("429");
  SetRetryAfter(too_many, absl::Seconds(1));
  EXPECT_EQ(RetryDelay(policy, too_many, 1, absl::ZeroDuration()), absl::Seconds(1));
  EXPECT_EQ(RetryDelay(policy, too_many, 1, absl::Milliseconds(600)), std::nullopt);
  SetRetryAfter(too_many, absl::Seconds(3));
  EXPECT_EQ(RetryDelay(policy, too_many, 1, absl::ZeroDuration()), std::nullopt);
}

}  // namespace
}  // namespace voxflow
