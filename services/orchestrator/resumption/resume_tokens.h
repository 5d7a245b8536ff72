// ResumeTokens: the opaque token that lets a client continue its session on any replica. It names
// the session and when it stops being valid, signed (HMAC-SHA256) with a key every replica shares
// (--resume_key_file), so that it cannot be forged or altered to name another session.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_RESUMPTION_RESUME_TOKENS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_RESUMPTION_RESUME_TOKENS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace voxflow::orchestrator {

class ResumeTokens {
 public:
  // `key`: at least 16 bytes. Tokens are valid for `lifetime` from their issue.
  ResumeTokens(std::string key, absl::Duration lifetime);
  // A key of 32 random bytes: tokens this process alone accepts.
  static std::string RandomKey();
  // The key in `path` (its bytes, one trailing newline dropped); INVALID_ARGUMENT naming `flag`.
  static absl::StatusOr<std::string> ReadKey(const std::string& path, absl::string_view flag);

  std::string Issue(absl::string_view session_id, absl::Time now) const;
  // The session id a token names. PERMISSION_DENIED for a token this key did not sign (forged,
  // altered, or from another deployment); INVALID_ARGUMENT for one expired or malformed. Messages
  // name config.resume_token.
  absl::StatusOr<std::string> Verify(absl::string_view token, absl::Time now) const;

 private:
  std::string Mac(absl::string_view signed_part) const;

  const std::string key_;
  const absl::Duration lifetime_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_RESUMPTION_RESUME_TOKENS_H_
