// TLS for the hand-written TCP protocols (the broker's native protocol, its HTTP /api client):
// the OpenSSL context of one end of mutual TLS, and TlsSocket — one TCP connection that is
// plaintext or TLS, chosen when it is made, so one class serves both (the WebSocket code, which
// is templated on its stream instead, uses the same contexts).
//
// TlsSocket is an Asio AsyncReadStream + AsyncWriteStream for completion handlers (not other
// completion tokens): asio::async_write, beast::http::async_read/write work on it. Plaintext
// costs one branch per call. Threads: those of the socket it was made from (its executor).
#pragma once
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "core/tls_config.h"

namespace pathbench::net {

// An OpenSSL context for one end of mutual TLS: TLS 1.2 at least, this end's chain and key
// (a client may have none: the server then refuses it), the CA the peer must chain to.
// Throws std::runtime_error naming `what` and OpenSSL's reason — never the PEM contents.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsMaterial& tls, bool server, const std::string& what);

// Client side of a TLS stream (asio or beast): SNI when `server_name` is a name (RFC 6066), and
// the server's certificate must carry it (a name, or an IP address in its subjectAltName).
template <class SslStream>
void expect_server_name(SslStream& stream, const std::string& server_name) {
  boost::system::error_code not_an_address;
  boost::asio::ip::make_address(server_name, not_an_address);
  if (not_an_address) SSL_set_tlsext_host_name(stream.native_handle(), server_name.c_str());
  stream.set_verify_callback(boost::asio::ssl::host_name_verification(server_name));
}

class TlsSocket {
 public:
  using tcp = boost::asio::ip::tcp;
  using executor_type = tcp::socket::executor_type;

  // `context` null: plaintext. With a context the connection is TLS once async_handshake is done.
  TlsSocket(tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> context);
  TlsSocket(const executor_type& executor, std::shared_ptr<boost::asio::ssl::context> context)
      : TlsSocket(tcp::socket(executor), std::move(context)) {}
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  executor_type get_executor() noexcept { return tcp_socket().get_executor(); }
  tcp::socket& tcp_socket() noexcept { return tls_ ? tls_->next_layer() : *plain_; }
  bool tls() const noexcept { return tls_.has_value(); }

  // After the TCP connect (client) or accept (server): the TLS handshake — a client checks
  // `server_name` (expect_server_name) — or, plaintext, done(success) posted at once.
  void async_handshake(bool server, const std::string& server_name, std::function<void(boost::system::error_code)> done);

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (tls_) tls_->async_read_some(buffers, std::forward<Handler>(handler));
    else plain_->async_read_some(buffers, std::forward<Handler>(handler));
  }
  // Like async_read_some, but what a plaintext read gives: every byte already received, not one
  // TLS record per call. OpenSSL hands out one record per read, so a peer's many small writes that
  // arrived together would come one read (and one answer, one write) at a time; after the first
  // record this takes every further one already received (from OpenSSL's buffers only: no
  // syscall, no wait). A peer that closes without close_notify reads as eof, as in plaintext:
  // these protocols frame their own messages, so a cut stream cannot pass for a whole frame.
  // For the hand-written protocols (broker/native_*), whose reads and writes run on one strand.
  template <class Handler>
  void async_read_available(boost::asio::mutable_buffer buffer, Handler&& handler) {
    if (!tls_) return plain_->async_read_some(buffer, std::forward<Handler>(handler));
    tls_->async_read_some(buffer, [this, buffer, handler = std::forward<Handler>(handler)](boost::system::error_code ec,
                                                                                       std::size_t n) mutable {
      if (!ec) n += read_buffered(buffer + n);
      if (ec == boost::asio::ssl::error::stream_truncated) ec = boost::asio::error::eof;
      handler(ec, n);
    });
  }

  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    if (tls_) tls_->async_write_some(buffers, std::forward<Handler>(handler));
    else plain_->async_write_some(buffers, std::forward<Handler>(handler));
  }

  // The TCP layer's shutdown (TLS: no close_notify — the peer has what was written and sees the
  // stream end) and close. Errors ignored: the peer may be gone already.
  void shutdown_send() noexcept;
  void close() noexcept;

 private:
  std::size_t read_buffered(boost::asio::mutable_buffer room);

  std::shared_ptr<boost::asio::ssl::context> context_;  // before tls_: outlives it
  std::optional<tcp::socket> plain_;
  std::optional<boost::asio::ssl::stream<tcp::socket>> tls_;
};

}  // namespace pathbench::net
