#include "services/orchestrator/resumption/resume_tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace voxflow::orchestrator {
namespace {

constexpr absl::string_view kVersion = "v1";
constexpr absl::string_view kField = "config.resume_token";

}  // namespace

ResumeTokens::ResumeTokens(std::string key, absl::Duration lifetime)
    : key_(std::move(key)), lifetime_(lifetime) {}

std::string ResumeTokens::RandomKey() {
  std::string key(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    std::abort();  // No randomness: nothing can be signed safely.
  }
  return key;
}

absl::StatusOr<std::string> ResumeTokens::ReadKey(const std::string& path, absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::string key = bytes.str();
  if (!key.empty() && key.back() == '\n') key.pop_back();
  if (key.size() < 16) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, " holds ", key.size(), " bytes; a key needs at least 16"));
  }
  return key;
}

std::string ResumeTokens::Mac(absl::string_view signed_part) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac,
       &length);
  return std::string(reinterpret_cast<const char*>(mac), length);
}

std::string ResumeTokens::Issue(absl::string_view session_id, absl::Time now) const {
  const std::string signed_part = absl::StrCat(kVersion, ".", absl::WebSafeBase64Escape(session_id),
                                               ".", absl::ToUnixSeconds(now + lifetime_));
  return absl::StrCat(signed_part, ".", absl::WebSafeBase64Escape(Mac(signed_part)));
}

absl::StatusOr<std::string> ResumeTokens::Verify(absl::string_view token, absl::Time now) const {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  int64_t expires = 0;
  std::string session_id;
  std::string mac;
  if (parts.size() != 4 || parts[0] != kVersion ||
      !absl::WebSafeBase64Unescape(parts[1], &session_id) || session_id.empty() ||
      !absl::SimpleAtoi(parts[2], &expires) || !absl::WebSafeBase64Unescape(parts[3], &mac)) {
    return absl::InvalidArgumentError(
        absl::StrCat(kField, ": not a resume token (send SessionStarted.resume_token as it came)"));
  }
  const std::string expected =
      Mac(token.substr(0, parts[0].size() + parts[1].size() + parts[2].size() + 2));
  if (mac.size() != expected.size() ||
      CRYPTO_memcmp(mac.data(), expected.data(), mac.size()) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(kField,
                     ": not signed by this deployment (forged, altered, or issued by "
                     "servers with another --resume_key_file)"));
  }
  if (absl::FromUnixSeconds(expires) <= now) {
    return absl::InvalidArgumentError(absl::StrCat(kField, ": expired at ",
                                                   absl::FormatTime(absl::FromUnixSeconds(expires)),
                                                   "; start a new session"));
  }
  return session_id;
}

}  // namespace voxflow::orchestrator
