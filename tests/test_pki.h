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
  // A scenario's [tls]: the load's clients present client.pem, the spawned worker, balancer and
  // embedded broker node.pem, all of ca.pem.
  std::string scenario_table() const {
    const std::string node = fmt::format("cert = \"{}\"\nkey = \"{}\"\n", (*this / "node.pem").string(), (*this / "node.key").string());
    return fmt::format("[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n[tls.worker]\n{}[tls.balancer]\n{}[tls.broker]\n{}",
                       (*this / "ca.pem").string(), (*this / "client.pem").string(), (*this / "client.key").string(), node,
                       node, node);
  }
};

}  // namespace pathbench::testing
