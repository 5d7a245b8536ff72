#include "tests/util/certificates.h"

#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/util/command.h"

namespace voxflow::testing {
namespace {

absl::Status Openssl(const std::vector<std::string>& args) {
  absl::StatusOr<CommandResult> result = RunCommand("/usr/bin/openssl", args);
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(absl::StrCat("openssl ", args[0], ": ", result->err));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status MakeTestCertificates(const std::string& dir) {
  auto path = [&](const std::string& name) { return absl::StrCat(dir, "/", name); };
  if (absl::Status s =
          Openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                   "/CN=voxflow-test-ca", "-keyout", path("ca.key"), "-out", path("ca.pem")});
      !s.ok()) {
    return s;
  }
  for (const std::string name : {"server", "client"}) {
    std::ofstream(path(name + ".ext"))
        << (name == "server" ? "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                               "extendedKeyUsage=serverAuth\n"
                             : "extendedKeyUsage=clientAuth\n");
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"req", "-newkey", "rsa:2048", "-nodes", "-subj",
                                   "/CN=voxflow-" + name, "-keyout", path(name + ".key"), "-out",
                                   path(name + ".csr")},
          std::vector<std::string>{"x509", "-req", "-days", "2", "-in", path(name + ".csr"), "-CA",
                                   path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
                                   "-extfile", path(name + ".ext"), "-out", path(name + ".pem")}}) {
      if (absl::Status s = Openssl(args); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace voxflow::testing
