#include "net/tls_stream.h"

#include <fmt/format.h>

namespace pathbench::net {

namespace asio = boost::asio;
namespace ssl = asio::ssl;

std::shared_ptr<ssl::context> make_tls_context(const TlsMaterial& tls, bool server, const std::string& what) {
  auto ctx = std::make_shared<ssl::context>(server ? ssl::context::tls_server : ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  boost::system::error_code ec;
  auto check = [&](const char* which) {
    if (ec) throw std::runtime_error(fmt::format("{}: TLS: cannot use the {}: {}", what, which, ec.message()));
  };
  if (!tls.cert_pem.empty()) ctx->use_certificate_chain(asio::buffer(tls.cert_pem), ec), check("certificate");
  if (!tls.key_pem.empty()) ctx->use_private_key(asio::buffer(tls.key_pem), ssl::context::pem, ec), check("private key");
  if (!tls.ca_pem.empty()) ctx->add_certificate_authority(asio::buffer(tls.ca_pem), ec), check("CA");
  ctx->set_verify_mode(server ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert : ssl::verify_peer, ec);
  check("verify mode");
  // No TLS 1.2 renegotiation: a peer cannot make us redo handshakes.
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_RENEGOTIATION);
  return ctx;
}

TlsSocket::TlsSocket(tcp::socket socket, std::shared_ptr<ssl::context> context) : context_(std::move(context)) {
  if (context_) tls_.emplace(std::move(socket), *context_);
  else plain_.emplace(std::move(socket));
}

void TlsSocket::async_handshake(bool server, const std::string& server_name,
                                std::function<void(boost::system::error_code)> done) {
  if (!tls_) return asio::post(get_executor(), [done = std::move(done)] { done({}); });
  if (!server) expect_server_name(*tls_, server_name);
  tls_->async_handshake(server ? ssl::stream_base::server : ssl::stream_base::client,
                        [done = std::move(done)](boost::system::error_code ec) { done(ec); });
}

std::size_t TlsSocket::read_buffered(asio::mutable_buffer room) {
  // Straight from OpenSSL, never the socket: the records asio's engine has already handed it (its
  // memory BIO) and what it has decrypted. Nothing here writes to the socket — output OpenSSL
  // makes meanwhile (a TLS 1.3 KeyUpdate answer, an alert) waits in the engine's BIO and leaves
  // with the next write — and a partial record stays with OpenSSL for the next asynchronous read.
  SSL* ssl = tls_->native_handle();
  std::size_t total = 0;
  while (room.size() > 0 && (SSL_pending(ssl) > 0 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0)) {
    std::size_t n = 0;
    ERR_clear_error();
    if (SSL_read_ex(ssl, room.data(), room.size(), &n) != 1) {
      ERR_clear_error();  // wants more input, or an error the next read reports again
      break;
    }
    total += n;
    room += n;
  }
  return total;
}

void TlsSocket::shutdown_send() noexcept {
  boost::system::error_code ignored;
  tcp_socket().shutdown(tcp::socket::shutdown_send, ignored);
}

void TlsSocket::close() noexcept {
  boost::system::error_code ignored;
  tcp_socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp_socket().close(ignored);
}

}  // namespace pathbench::net
