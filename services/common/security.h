// TLS (and mutual TLS) credentials from PEM files, and bearer-token authentication: the server
// side checks `authorization: Bearer <token>` on every call except grpc.health.v1 (probes carry no
// token) and answers UNAUTHENTICATED otherwise; tokens are never logged.
#ifndef VOXFLOW_SERVICES_COMMON_SECURITY_H_
#define VOXFLOW_SERVICES_COMMON_SECURITY_H_

#include <memory>
#include <string>
#include <unordered_set>

#include "absl/status/statusor.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace voxflow {

struct ServerSecurity {
  std::string tls_cert_file;       // PEM certificate chain; empty: plaintext.
  std::string tls_key_file;        // Its PEM private key.
  std::string tls_client_ca_file;  // Set: clients must present a certificate it signed (mTLS).
  std::string auth_tokens_file;    // Set: one accepted bearer token per line ('#' comments).
};

// INVALID_ARGUMENT naming the flag or file when the settings cannot work (tokens need TLS).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurity& security);

struct ClientSecurity {
  std::string tls_ca_file;    // Set: TLS, verifying the server with this CA.
  std::string tls_cert_file;  // Client certificate for mutual TLS (with tls_key_file).
  std::string tls_key_file;
  std::string auth_token;  // Sent as a bearer token (needs TLS).
  // Set: the token is read from this file instead (surrounding whitespace dropped).
  std::string auth_token_file;
};

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    ClientSecurity security);

// The tokens of a tokens file: one per line, blank lines and '#' comments skipped.
absl::StatusOr<std::unordered_set<std::string>> LoadTokens(const std::string& path);

// A file's whole content; NOT_FOUND naming it.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// The auth-context property BearerTokenAuthenticator sets on an authenticated call: an opaque key
// of the token (not the token), for per-client limits.
inline constexpr char kClientTokenProperty[] = "voxflow_client_token";

class BearerTokenAuthenticator : public grpc::AuthMetadataProcessor {
 public:
  explicit BearerTokenAuthenticator(std::unordered_set<std::string> tokens)
      : tokens_(std::move(tokens)) {}
  bool IsBlocking() const override { return false; }  // A set lookup.
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const std::unordered_set<std::string> tokens_;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_SECURITY_H_
