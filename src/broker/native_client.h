// The client end of the native protocol: one TCP connection (TLS for tcps://) on the caller's
// io_context that sends frames and hands every decoded frame to a callback. The embedded mq backend
// (mq/embedded.cpp) builds its requester and responders on it; tests use it as a plain client.
//
// Threads: single-threaded. Every member is called, and every callback runs, on the thread that
// runs `io` (one thread per io_context, as the load generator and the responder threads do).
// Writes: send() appends the frame to a buffer; frames sent from inside on_frame are flushed
// together when the callback batch ends, frames sent elsewhere go out at once (or behind the one
// write in flight). Create with make_shared: handlers keep the object alive.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "broker/protocol.h"
#include "core/clock.h"
#include "core/tls_config.h"
#include "net/tls_stream.h"

namespace pathbench::broker {

// Mutual TLS for a client: the OpenSSL context (this end's identity, the CA the broker must chain
// to) and the name the broker's certificate must carry ("" = the address's host). No context:
// plaintext.
struct NativeClientTls {
  std::shared_ptr<boost::asio::ssl::context> context;
  std::string server_name;
};

// The client TLS for the broker at `url`: TLS when the URL is tcps:// or `files` names any file
// (then ca, cert and key are all needed); plaintext for tcp:// / host:port without files. Reads
// the files; throws std::runtime_error naming what is missing or unreadable (never contents).
NativeClientTls native_client_tls(const std::string& url, const TlsFiles& files);
// The same from material already loaded (nullptr: plaintext).
NativeClientTls native_client_tls(const TlsMaterial* material, const std::string& what);

class NativeClient : public std::enable_shared_from_this<NativeClient> {
 public:
  // on_frame: each frame from the server (string fields valid during the call only).
  // on_closed: once, when the connection fails or the server closes it (not after close()).
  using OnFrame = std::function<void(const protocol::Frame& frame)>;
  using OnClosed = std::function<void(const std::string& reason)>;

  explicit NativeClient(boost::asio::io_context& io, std::size_t max_frame_bytes = protocol::kDefaultMaxFrameBytes,
                        NativeClientTls tls = {});
  ~NativeClient();
  NativeClient(const NativeClient&) = delete;
  NativeClient& operator=(const NativeClient&) = delete;

  // Resolves and connects to "host:port" (or "tcp://host:port", "tcps://host:port") and, with
  // TLS, does the handshake, all within timeout_ns, then starts reading. done("") on success or
  // done(reason) once. The scheme does not choose TLS: the constructor's `tls` does.
  void connect(const std::string& address, Nanos timeout_ns, OnFrame on_frame, OnClosed on_closed,
               std::function<void(const std::string& error)> done);
  void send(const protocol::Frame& frame);
  // Sends what is buffered now, even inside on_frame (a responder replies before its next delivery).
  void flush();
  // Closes the socket; no callback runs after this returns. Idempotent.
  void close();
  bool is_open() const noexcept { return state_ == State::open; }
  bool tls() const noexcept { return socket_.tls(); }
  std::size_t max_frame_bytes() const noexcept { return max_frame_bytes_; }

 private:
  enum class State : std::uint8_t { idle, connecting, open, closed };
  void on_connected(const boost::system::error_code& ec);
  void on_handshake(const boost::system::error_code& ec);
  void do_read();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void do_write();
  void on_write(const boost::system::error_code& ec);
  void fail(const std::string& reason);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::resolver resolver_;
  net::TlsSocket socket_;
  std::string server_name_;
  boost::asio::steady_timer connect_timer_;
  std::size_t max_frame_bytes_;
  State state_ = State::idle;
  OnFrame on_frame_;
  OnClosed on_closed_;
  std::function<void(const std::string&)> connect_done_;
  protocol::InputBuffer in_;
  std::string out_, in_flight_;
  bool writing_ = false;
  bool dispatching_ = false;  // inside on_frame: sends are batched until the read batch ends
};

// "tcp://host:port", "tcps://host:port" or "host:port" -> "host:port"; "" when the scheme is
// something else.
std::string strip_tcp_scheme(const std::string& url);

}  // namespace pathbench::broker
