#include "services/gateway/twilio_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/escaping.h"

namespace voxflow::gateway {

std::string TwilioSignature(absl::string_view auth_token, absl::string_view url,
                            const std::map<std::string, std::string>& params) {
  std::string data(url);
  for (const auto& [name, value] : params) data += name + value;  // std::map: sorted by name.
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha1(), auth_token.data(), static_cast<int>(auth_token.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(length)));
}

bool TwilioSignatureValid(absl::string_view auth_token, absl::string_view url,
                          absl::string_view signature) {
  const std::string expected = TwilioSignature(auth_token, url);
  return signature.size() == expected.size() &&
         CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) == 0;
}

}  // namespace voxflow::gateway
