// TLS material for every link that leaves a host (docs/distributed.md, "TLS"): the PEM files a
// role names (scenario [tls] / `--tls-ca --tls-cert --tls-key`), read once into memory when the
// role starts. Mutual TLS: every end presents its cert + key and verifies the other end's chain
// against ca. The key's contents never leave this struct (no formatter prints it); its path may
// appear in messages.
//
// Also the one decision on plaintext listeners: a listener bound to a non-loopback address
// without TLS is refused unless plaintext was explicitly allowed (`--insecure`,
// [tls] insecure = true). Loopback (127.0.0.0/8, ::1, localhost) stays plaintext by default.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace pathbench {

struct TlsFiles {
  std::filesystem::path ca;     // PEM: the CA(s) the peer's certificate must chain to
  std::filesystem::path cert;   // PEM: this end's certificate chain
  std::filesystem::path key;    // PEM: this end's private key
  std::string server_name;      // clients: the name to verify in the server's certificate ("" = the target's host)
  bool empty() const noexcept { return ca.empty() && cert.empty() && key.empty(); }
};

struct TlsMaterial {
  std::string ca_pem, cert_pem, key_pem;  // key_pem: a secret, never printed
  std::string server_name;
};

// Reads the three files; throws std::runtime_error "cannot read the TLS <ca|cert|key> file <path>"
// (never their contents). Nothing (nullptr) when `files` names none. All three are required.
std::shared_ptr<const TlsMaterial> load_tls_material(const TlsFiles& files);

// "" when the file can be opened for reading, else the reason ("does not exist", "is not readable").
std::string tls_file_problem(const std::filesystem::path& file);

// True for 127.0.0.0/8, ::1, ::ffff:127.x.y.z and "localhost" (brackets already removed).
bool is_loopback_host(std::string_view host) noexcept;

// The plaintext decision for a listener `what` on host:port `listen`: "" when it may start
// (TLS on, loopback, or plaintext allowed), else the refusal to print. When it may start only
// because plaintext was allowed off loopback, `warning` is set to the WARNING line to print.
std::string plaintext_listen_refusal(std::string_view what, std::string_view listen, bool tls, bool insecure_allowed,
                                     std::string* warning = nullptr);

}  // namespace pathbench
