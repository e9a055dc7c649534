#include "core/tls_config.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/host_port.h"

namespace pathbench {

namespace {

std::string read_pem(const std::filesystem::path& file, std::string_view what) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  if (in) buffer << in.rdbuf();
  if (!in || in.bad()) throw std::runtime_error(fmt::format("cannot read the TLS {} file {}", what, file.string()));
  std::string text = buffer.str();
  // Only the shape is checked here; the TLS library reports a malformed PEM when it parses it.
  if (text.find("-----BEGIN ") == std::string::npos)
    throw std::runtime_error(fmt::format("the TLS {} file {} is not PEM (no -----BEGIN line)", what, file.string()));
  return text;
}

}  // namespace

std::shared_ptr<const TlsMaterial> load_tls_material(const TlsFiles& files) {
  if (files.empty()) return nullptr;
  if (files.ca.empty() || files.cert.empty() || files.key.empty())
    throw std::runtime_error("TLS needs all three of ca, cert and key (mutual TLS)");
  auto m = std::make_shared<TlsMaterial>();
  m->ca_pem = read_pem(files.ca, "ca");
  m->cert_pem = read_pem(files.cert, "cert");
  m->key_pem = read_pem(files.key, "key");
  m->server_name = files.server_name;
  return m;
}

std::string tls_file_problem(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return "does not exist";
  if (std::filesystem::is_directory(file, ec)) return "is a directory";
  std::ifstream in(file, std::ios::binary);
  if (!in) return fmt::format("is not readable ({})", std::strerror(errno));
  return "";
}

bool is_loopback_host(std::string_view host) noexcept {
  if (host == "localhost") return true;
  std::string h(host);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return v6.s6_addr[12] == 127;
  }
  return false;
}

std::string plaintext_listen_refusal(std::string_view what, std::string_view listen, bool tls, bool insecure_allowed,
                                     std::string* warning) {
  if (tls) return "";
  auto hp = parse_host_port(listen, /*allow_port_zero=*/true);
  // An address that does not parse is refused by the listener itself, with its own message.
  if (!hp || is_loopback_host(hp->host)) return "";
  if (insecure_allowed) {
    if (warning)
      *warning = fmt::format("WARNING: {} listens on {} in PLAINTEXT, without TLS or authentication (--insecure): "
                             "anyone who can reach that address can use and read it",
                             what, listen);
    return "";
  }
  return fmt::format("{}: refusing to listen on {} in plaintext: it is not a loopback address. Give it TLS "
                     "(--tls-cert/--tls-key/--tls-ca, or a [tls] table) or allow plaintext explicitly "
                     "(--insecure, [tls] insecure = true)",
                     what, listen);
}

}  // namespace pathbench
