#include "services/common/security.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/common/logging.h"
#include "spdlog/spdlog.h"

namespace voxflow {

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

absl::StatusOr<std::unordered_set<std::string>> LoadTokens(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  std::unordered_set<std::string> tokens;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    tokens.insert(std::string(line));
  }
  if (tokens.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " holds no token"));
  return tokens;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurity& security) {
  if (security.tls_cert_file.empty() != security.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (security.tls_cert_file.empty()) {
    if (!security.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError("--tls_client_ca needs --tls_cert and --tls_key");
    }
    if (!security.auth_tokens_file.empty()) {
      return absl::InvalidArgumentError(
          "--auth_tokens_file needs --tls_cert and --tls_key: tokens over plaintext could be read");
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions options(
      security.tls_client_ca_file.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  absl::StatusOr<std::string> cert = ReadFileToString(security.tls_cert_file);
  if (!cert.ok())
    return absl::InvalidArgumentError(absl::StrCat("--tls_cert: ", cert.status().message()));
  absl::StatusOr<std::string> key = ReadFileToString(security.tls_key_file);
  if (!key.ok())
    return absl::InvalidArgumentError(absl::StrCat("--tls_key: ", key.status().message()));
  pair.cert_chain = *cert;
  pair.private_key = *key;
  options.pem_key_cert_pairs.push_back(pair);
  if (!security.tls_client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFileToString(security.tls_client_ca_file);
    if (!ca.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--tls_client_ca: ", ca.status().message()));
    }
    options.pem_root_certs = *ca;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(options);
  if (!security.auth_tokens_file.empty()) {
    absl::StatusOr<std::unordered_set<std::string>> tokens = LoadTokens(security.auth_tokens_file);
    if (!tokens.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--auth_tokens_file: ", tokens.status().message()));
    }
    credentials->SetAuthMetadataProcessor(
        std::make_shared<BearerTokenAuthenticator>(*std::move(tokens)));
  }
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    ClientSecurity security) {
  if (!security.auth_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadFileToString(security.auth_token_file);
    if (!token.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("auth token: ", token.status().message()));
    }
    security.auth_token = std::string(absl::StripAsciiWhitespace(*token));
  }
  if (security.tls_ca_file.empty()) {
    if (!security.auth_token.empty() || !security.tls_cert_file.empty()) {
      return absl::InvalidArgumentError(
          "a client certificate or token needs TLS: set the CA file (tls_ca) too");
    }
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions options;
  absl::StatusOr<std::string> ca = ReadFileToString(security.tls_ca_file);
  if (!ca.ok()) return absl::InvalidArgumentError(ca.status().message());
  options.pem_root_certs = *ca;
  if (!security.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadFileToString(security.tls_cert_file);
    absl::StatusOr<std::string> key = ReadFileToString(security.tls_key_file);
    if (!cert.ok()) return absl::InvalidArgumentError(cert.status().message());
    if (!key.ok()) return absl::InvalidArgumentError(key.status().message());
    options.pem_cert_chain = *cert;
    options.pem_private_key = *key;
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::SslCredentials(options);
  if (!security.auth_token.empty()) {
    credentials = grpc::CompositeChannelCredentials(
        credentials, grpc::AccessTokenCredentials(security.auth_token));
  }
  return credentials;
}

grpc::Status BearerTokenAuthenticator::Process(const InputMetadata& auth_metadata,
                                               grpc::AuthContext* context,
                                               OutputMetadata* consumed_auth_metadata,
                                               OutputMetadata* /*response_metadata*/) {
  const auto path = auth_metadata.find(":path");
  const absl::string_view method =
      path == auth_metadata.end() ? ""
                                  : absl::string_view(path->second.data(), path->second.size());
  if (absl::StartsWith(method, "/grpc.health.v1.Health/")) {
    return grpc::Status::OK;  // Probes carry no token.
  }
  // Refusals are logged (method, the peer's TLS identity if any, why), never the token.
  auto refuse = [&](const char* reason) {
    std::string identity = "none";
    if (context != nullptr && context->IsPeerAuthenticated()) {
      std::vector<std::string> names;
      for (const grpc::string_ref& name : context->GetPeerIdentity()) {
        names.emplace_back(name.data(), name.size());
      }
      identity = absl::StrJoin(names, ",");
    }
    spdlog::warn("authentication failed: method={} peer_identity={} reason={}",
                 QuoteClientValue(method, 128), QuoteClientValue(identity, 128), reason);
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, reason);
  };
  const auto header = auth_metadata.find("authorization");
  if (header == auth_metadata.end()) return refuse("missing bearer token (authorization metadata)");
  const absl::string_view value(header->second.data(), header->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  const std::string token(value.substr(std::min(value.size(), kBearer.size())));
  if (!absl::StartsWith(value, kBearer) || tokens_.count(token) == 0) {
    return refuse("invalid bearer token");
  }
  if (context != nullptr) {
    context->AddProperty(kClientTokenProperty,
                         absl::StrCat(absl::Hex(std::hash<std::string>()(token))));
  }
  // Consumed: handlers (and their logs) never see it.
  consumed_auth_metadata->insert(
      std::make_pair(std::string(header->first.data(), header->first.size()), std::string(value)));
  return grpc::Status::OK;
}

}  // namespace voxflow
