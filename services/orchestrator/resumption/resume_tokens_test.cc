#include "services/orchestrator/resumption/resume_tokens.h"

#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

TEST(ResumeTokensTest, ATokenNamesItsSession) {
  ResumeTokens tokens("0123456789abcdef-key", absl::Hours(1));
  const std::string token = tokens.Issue("s-0042", kNow);
  absl::StatusOr<std::string> id = tokens.Verify(token, kNow + absl::Minutes(59));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "s-0042");
  // Another replica with the same key accepts it.
  EXPECT_EQ(*ResumeTokens("0123456789abcdef-key", absl::Hours(1)).Verify(token, kNow), "s-0042");
}

TEST(ResumeTokensTest, AnotherKeyOrAnAlteredTokenIsRefused) {
  ResumeTokens tokens("0123456789abcdef-key", absl::Hours(1));
  const std::string token = tokens.Issue("s-0042", kNow);
  absl::StatusOr<std::string> other_key =
      ResumeTokens("another-key-of-16+bytes", absl::Hours(1)).Verify(token, kNow);
  EXPECT_EQ(other_key.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(other_key.status().message().find("config.resume_token"), std::string::npos);

  // The session id swapped for another's, the signature kept.
  const std::string other = tokens.Issue("s-0043", kNow);
  const std::string swapped = other.substr(0, other.rfind('.')) + token.substr(token.rfind('.'));
  EXPECT_EQ(tokens.Verify(swapped, kNow).status().code(), absl::StatusCode::kPermissionDenied);
  // The expiry pushed back.
  std::string later = token;
  later[later.find('.', 3) + 1] = '9';
  EXPECT_EQ(tokens.Verify(later, kNow).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(ResumeTokensTest, AnExpiredOrMalformedTokenIsInvalid) {
  ResumeTokens tokens("0123456789abcdef-key", absl::Hours(1));
  const std::string token = tokens.Issue("s-0042", kNow);
  absl::StatusOr<std::string> expired = tokens.Verify(token, kNow + absl::Hours(1));
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos) << expired.status();
  for (const char* bad : {"", "v1", "v2.czE.1.AA", "v1..1.AA", "v1.czE.x.AA", "v1.c$E.1.AA"}) {
    absl::StatusOr<std::string> id = tokens.Verify(bad, kNow);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(id.status().message().find("config.resume_token"), std::string::npos) << bad;
  }
}

TEST(ResumeTokensTest, RandomKeysDiffer) {
  EXPECT_EQ(ResumeTokens::RandomKey().size(), 32u);
  EXPECT_NE(ResumeTokens::RandomKey(), ResumeTokens::RandomKey());
}

}  // namespace
}  // namespace voxflow::orchestrator
