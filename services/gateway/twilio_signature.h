// Twilio's request signature: X-Twilio-Signature is Base64(HMAC-SHA1(auth token, URL)) for a
// request without POST parameters, as Twilio signs the WebSocket upgrade of a Media Stream (the
// full URL it connected to, query string included). Checked with OpenSSL, in constant time.
#ifndef VOXFLOW_SERVICES_GATEWAY_TWILIO_SIGNATURE_H_
#define VOXFLOW_SERVICES_GATEWAY_TWILIO_SIGNATURE_H_

#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace voxflow::gateway {

// The signature Twilio computes for `url` and (for a form POST) its `params`, sorted by name,
// each name followed by its value, appended to the URL.
std::string TwilioSignature(absl::string_view auth_token, absl::string_view url,
                            const std::map<std::string, std::string>& params = {});

// Whether `signature` (the header's value) is the one for `url` under `auth_token`.
bool TwilioSignatureValid(absl::string_view auth_token, absl::string_view url,
                          absl::string_view signature);

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_TWILIO_SIGNATURE_H_
