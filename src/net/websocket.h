// WebSocket (and plain HTTP on the same port) over Boost.Beast, shared by every role and path
// that speaks it: the worker's and the balancer's WebSocket fronts, the balancer's connections
// to the workers, the `websocket` path's client, and the broker's /ws/* and /api/* fronts.
//
// A WsChannel is one established WebSocket connection, client or server side, in the Beast
// examples' shape: it lives on its own strand, reads continuously, has one write in flight plus
// a queue, and reports its end exactly once. Limits the channel enforces:
//   - a message larger than max_message_bytes: closed with 1009 (too big) — that connection only;
//   - a malformed frame: closed with 1002 (protocol error) by Beast; handlers close with 1002
//     themselves when a well-formed frame carries a payload they cannot parse;
//   - idle: no frame from the peer for idle_timeout (Beast pings at half of it first);
//   - the opening handshake must complete within handshake_timeout.
// A server over max_connections accepts the handshake and closes at once with 1013 (try again
// later); a server whose peer does not read pauses reading while max_queued_writes replies wait.
//
// TLS (docs/distributed.md, "TLS and authentication"): a WsServer given TLS material serves
// wss:// and https:// only, with mutual TLS — it presents its cert and requires a client
// certificate that chains to ca (a client without one, or plaintext bytes, fail the TLS handshake
// and that connection is closed; the server keeps serving the others). ws_connect given TLS
// material speaks wss://: it verifies the server's chain against ca and its name (server_name, or
// the host of the address) and presents its own cert. One channel class serves both, templated on
// the stream below the WebSocket layer, so a plaintext message costs what it did before.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/tls_config.h"

namespace pathbench::net {

using CloseCode = boost::beast::websocket::close_code;
using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

struct WsLimits {
  std::size_t max_message_bytes = 1 << 20;
  Nanos handshake_timeout_ns = 5 * kNanosPerSecond;
  Nanos idle_timeout_ns = 60 * kNanosPerSecond;  // 0 = never; servers only (clients own their deadlines)
  std::size_t max_queued_writes = 8192;          // reading pauses while more than this wait to be written
};

class WsChannel : public std::enable_shared_from_this<WsChannel> {
 public:
  struct Callbacks {
    // On the channel's strand; `payload` is valid during the call only.
    std::function<void(const std::shared_ptr<WsChannel>&, std::string_view payload, bool binary)> on_message;
    // On the channel's strand, exactly once, after which no on_message comes.
    std::function<void(const std::shared_ptr<WsChannel>&, const std::string& reason)> on_closed;
  };

  virtual ~WsChannel() = default;
  // Any thread. Queued on the strand and written in order, one write in flight; dropped once
  // the channel is closing.
  virtual void send(std::string payload, bool binary = true) = 0;
  // Any thread. Writes what is already queued, then closes with `code`.
  virtual void close(CloseCode code, std::string reason = {}) = 0;
  // Any thread. Drops the TCP connection at once, without a close handshake (fault injection).
  virtual void abort() = 0;
  // False once the channel is closing or closed (any thread; may lag by a strand hop).
  bool open() const noexcept { return open_.load(std::memory_order_acquire); }
  // The request target of the opening handshake ("/", "/ws/publish", ...).
  const std::string& target() const noexcept { return target_; }
  std::uint64_t id() const noexcept { return id_; }
  // Free for the owner of the callbacks (e.g. per-connection state of a front); touch it on the
  // strand only.
  std::shared_ptr<void> user;

 protected:
  WsChannel(std::string target, std::uint64_t id) : target_(std::move(target)), id_(id) {}
  std::atomic<bool> open_{true};

 private:
  std::string target_;
  std::uint64_t id_;
};

// What a WsServer does with its connections. Called on the connection's strand.
class WsHandler {
 public:
  // Whether `target` takes a WebSocket upgrade; others get 404.
  virtual bool accepts(std::string_view target) const = 0;
  virtual void on_open(const std::shared_ptr<WsChannel>&) {}
  virtual void on_message(const std::shared_ptr<WsChannel>& channel, std::string_view payload, bool binary) = 0;
  virtual void on_closed(const std::shared_ptr<WsChannel>&, const std::string& /*reason*/) {}
  // A plain HTTP request (no upgrade) on the same port. The default answers 426 for targets
  // that take WebSocket and 404 otherwise. Keep-alive is honoured. Bytes that do not parse as an
  // HTTP request get 400 from the server itself, and that connection is closed.
  virtual HttpResponse on_http(const HttpRequest& request);

 protected:
  ~WsHandler() = default;
};

struct WsServerOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 = a free port
  std::string thread_name = "pb-ws";   // at most 15 characters; threads get a number appended
  std::string name = "WebSocket server";  // names the server in errors and log lines
  int threads = 1;                     // io_context threads
  int max_connections = 4096;          // beyond this a new connection is closed with 1013
  std::size_t max_http_body_bytes = 1 << 20;
  WsLimits limits;
  // Mutual TLS on every connection (wss://, https://); nullptr = plaintext, which the listener
  // refuses off loopback unless plaintext was allowed (net/tls_policy.h).
  std::shared_ptr<const TlsMaterial> tls;
};

class WsServer {
 public:
  // Listens at once (net/listener.h: a failing accept backs off instead of spinning); throws
  // std::runtime_error naming the address when it cannot.
  WsServer(const WsServerOptions& options, WsHandler& handler);
  ~WsServer();  // stop()
  WsServer(const WsServer&) = delete;
  WsServer& operator=(const WsServer&) = delete;

  std::string address() const;  // "127.0.0.1:40123"
  bool tls() const noexcept;     // serves wss:// / https://
  std::size_t connections() const;
  // Every open connection: close with `code` (a clean close) or drop without a handshake.
  void close_all(CloseCode code);
  void abort_all();
  // Stops accepting, closes every connection with 1001 (going away) within a short grace,
  // stops the io_context and joins its threads. Idempotent; the handler is not called after.
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Client side: connects to ws://host_port/target on `io` — wss:// with mutual TLS when `tls` is
// given (this end's identity and the CA the server must chain to) — with the TCP connect, the TLS
// handshake and the opening handshake bounded by limits.handshake_timeout_ns. `done` runs on the
// channel's strand with the channel, or with nullptr and the reason.
void ws_connect(boost::asio::io_context& io, const std::string& host_port, const std::string& target,
                const WsLimits& limits, const TlsMaterial* tls, WsChannel::Callbacks callbacks,
                std::function<void(std::shared_ptr<WsChannel>, std::string error)> done);
// Plaintext (ws://).
inline void ws_connect(boost::asio::io_context& io, const std::string& host_port, const std::string& target,
                       const WsLimits& limits, WsChannel::Callbacks callbacks,
                       std::function<void(std::shared_ptr<WsChannel>, std::string error)> done) {
  ws_connect(io, host_port, target, limits, nullptr, std::move(callbacks), std::move(done));
}

// "ws://" or "wss://" (`tls`), then host_port and target: how URLs are printed.
std::string ws_url(bool tls, const std::string& host_port, std::string_view target);

}  // namespace pathbench::net
