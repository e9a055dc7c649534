#include <fmt/format.h>

#include "net/websocket_channel.h"

namespace pathbench::net {

namespace ws_detail {

// An OpenSSL context for one end of mutual TLS: TLS 1.2 at least, this end's chain and key
// (a client may have none: the server then refuses it), the CA the peer must chain to.
// Throws std::runtime_error naming `what` and OpenSSL's reason — never the PEM contents.
std::shared_ptr<ssl::context> make_tls_context(const TlsMaterial& tls, bool server, const std::string& what) {
  auto ctx = std::make_shared<ssl::context>(server ? ssl::context::tls_server : ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  beast::error_code ec;
  auto check = [&](const char* which) {
    if (ec) throw std::runtime_error(fmt::format("{}: TLS: cannot use the {}: {}", what, which, ec.message()));
  };
  if (!tls.cert_pem.empty()) ctx->use_certificate_chain(asio::buffer(tls.cert_pem), ec), check("certificate");
  if (!tls.key_pem.empty()) ctx->use_private_key(asio::buffer(tls.key_pem), ssl::context::pem, ec), check("private key");
  if (!tls.ca_pem.empty()) ctx->add_certificate_authority(asio::buffer(tls.ca_pem), ec), check("CA");
  ctx->set_verify_mode(server ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert : ssl::verify_peer, ec);
  check("verify mode");
  return ctx;
}

std::uint64_t next_channel_id() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}

}  // namespace ws_detail

std::string ws_url(bool tls, const std::string& host_port, std::string_view target) {
  return fmt::format("{}://{}{}", tls ? "wss" : "ws", host_port, target);
}

}  // namespace pathbench::net
