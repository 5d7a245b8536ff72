// Test certificates made with Debian's openssl: a CA, a server certificate for
// 127.0.0.1/localhost and a client certificate, both signed by it.
#ifndef VOXFLOW_TESTS_UTIL_CERTIFICATES_H_
#define VOXFLOW_TESTS_UTIL_CERTIFICATES_H_

#include <string>

#include "absl/status/status.h"

namespace voxflow::testing {

// Writes ca.pem/ca.key, server.pem/server.key and client.pem/client.key into `dir`.
absl::Status MakeTestCertificates(const std::string& dir);

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_CERTIFICATES_H_
