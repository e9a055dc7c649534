// A throw-away PKI for the TLS tests, made at test time by tests/make_test_certs.sh (ca.pem,
// node.pem/.key for 127.0.0.1 / ::1 / localhost, client.pem/.key, other-ca.pem and
// stranger.pem/.key signed by it); `why` says why there is none (no openssl command).
#pragma once
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "core/tls_config.h"
#include "test_helpers.h"

namespace pathbench::testing {

struct TestPki {
  TempDir dir;
  std::string why;
  explicit TestPki(const std::string& extra_san = "") {
    const int rc = std::system(fmt::format("bash '{}/tests/make_test_certs.sh' '{}' '{}' >/dev/null 2>&1", PATHBENCH_SOURCE_DIR,
                                           (dir / "pki").string(), extra_san).c_str());
    if (rc != 0) why = "cannot make the test certificates (is the openssl command installed?)";
  }
  std::filesystem::path operator/(const std::string& name) const { return dir.path() / "pki" / name; }
  // `name`.pem + `name`.key, verifying peers against `ca`.
  TlsFiles files(const std::string& ca, const std::string& name) const {
    return {*this / ca, *this / (name + ".pem"), *this / (name + ".key"), ""};
  }
  std::shared_ptr<const TlsMaterial> identity(const std::string& ca, const std::string& name) const {
    return load_tls_material(files(ca, name));
  }
};

}  // namespace pathbench::testing
