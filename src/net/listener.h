// One TCP listener for every server in pathbench (echo, WebSocket/HTTP, the broker's native
// protocol): bind "host:port" (core/host_port; port 0 = a free port), then an accept loop that
// hands each accepted socket to a callback.
//
// When accepting fails for want of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM — or any error
// that is not about the one connection being accepted), the loop does not retry at once: the
// pending connection stays in the kernel's backlog and would fail again at once, so the loop
// would spin. It waits (min_backoff_ns, doubling up to max_backoff_ns, back to the minimum after
// the next successful accept) and logs one line per wait, never one per failure.
//
// Threads: the accept loop and its back-off timer run on a strand of the io_context given to the
// constructor; `on_accept` runs there, one call at a time, with a socket bound to a new strand of
// the same io_context (the connection's own). stop() may be called from any thread or handler
// except from inside `on_accept` (which runs under the listener's lock). Once stop() returns the
// port is free to bind again and no `on_accept` call is running or will start. The Listener may
// be destroyed at any time (its destructor calls stop()); handlers still queued in the io_context
// hold only its shared state. Accepting takes a lock once per connection, never per request.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/host_port.h"

namespace pathbench::net {

struct ListenerOptions {
  Nanos min_backoff_ns = 50 * kNanosPerMilli;
  Nanos max_backoff_ns = kNanosPerSecond;
  // One line, without a newline, per back-off; empty = "pathbench: <what>: <line>" on stderr.
  std::function<void(const std::string&)> log;
  // The server speaks TLS on the accepted sockets. When false, binding a non-loopback address is
  // refused (net/tls_policy.h: PlaintextRefused) unless plaintext was allowed (--insecure).
  bool tls = false;
};

struct ListenerStats {
  std::uint64_t accepted = 0;
  std::uint64_t failed = 0;      // accepts that failed (each followed by a back-off or an immediate retry)
  std::uint64_t backoffs = 0;    // waits taken after a failure
};

class Listener {
 public:
  using OnAccept = std::function<void(boost::asio::ip::tcp::socket)>;

  // Binds and listens at once (SO_REUSEADDR on); throws std::runtime_error naming `what` (the
  // server: "broker", "echo server", ...) and the address when `listen` is not host:port with a
  // numeric address, or cannot be bound; PlaintextRefused (net/tls_policy.h) for plaintext off
  // loopback when not allowed. `what` also starts the log lines.
  Listener(boost::asio::io_context& io, const std::string& listen, std::string what, ListenerOptions options = {});
  Listener(boost::asio::io_context& io, const HostPort& listen, std::string what, ListenerOptions options = {});
  ~Listener();  // stop()
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Starts the accept loop (once). The accept handlers run when the io_context runs.
  void start(OnAccept on_accept);
  // Any thread but inside `on_accept`. Closes the acceptor (the port is released when it returns)
  // and cancels a back-off. Idempotent.
  void stop() noexcept;

  const HostPort& bound() const noexcept { return bound_; }  // the port actually bound
  std::string address() const { return bound_.to_string(); }  // "127.0.0.1:40123", "[::1]:40123"
  std::uint16_t port() const noexcept { return bound_.port; }
  ListenerStats stats() const noexcept;  // any thread

  struct State;

 private:
  void bind(const HostPort& listen);

  std::shared_ptr<State> state_;
  HostPort bound_;
};

}  // namespace pathbench::net
