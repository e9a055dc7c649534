#include "net/listener.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstdio>
#include <mutex>
#include <stdexcept>

#include "net/tls_policy.h"

namespace pathbench::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// Failures that concern only the connection being accepted (the peer gave up meanwhile): the
// next connection in the backlog may well succeed, so retrying at once cannot spin.
bool about_one_connection(const error_code& ec) {
  return ec == asio::error::connection_aborted || ec == asio::error::connection_reset ||
         ec == boost::system::errc::protocol_error;
}

}  // namespace

struct Listener::State : std::enable_shared_from_this<Listener::State> {
  State(asio::io_context& io_context, std::string w, ListenerOptions o)
      : io(io_context), strand(asio::make_strand(io_context)), acceptor(strand), timer(strand), what(std::move(w)),
        options(std::move(o)) {}

  // With `mutex` held: the acceptor and the timer are touched only under it, so stop() can close
  // them from any thread while the loop runs on the strand.
  void do_accept() {
    acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](error_code ec, tcp::socket socket) {
      self->on_accepted(ec, std::move(socket));
    });
  }

  void on_accepted(error_code ec, tcp::socket socket) {
    std::lock_guard lock(mutex);
    if (stopped || ec == asio::error::operation_aborted) return;
    if (!ec) {
      accepted.fetch_add(1, std::memory_order_relaxed);
      backoff_ns = 0;
      on_accept(std::move(socket));
      return do_accept();
    }
    failed.fetch_add(1, std::memory_order_relaxed);
    if (about_one_connection(ec)) return do_accept();
    // Out of descriptors or memory: the connection waits in the backlog and accepting again now
    // fails again now. Wait, longer each time, and say so once per wait.
    backoff_ns = backoff_ns == 0 ? options.min_backoff_ns : std::min(backoff_ns * 2, options.max_backoff_ns);
    backoffs.fetch_add(1, std::memory_order_relaxed);
    log(fmt::format("accept on {}: {}; accepting again in {} ms", address, ec.message(), backoff_ns / kNanosPerMilli));
    timer.expires_after(std::chrono::nanoseconds(backoff_ns));
    timer.async_wait([self = shared_from_this()](error_code wait_ec) {
      std::lock_guard lock(self->mutex);
      if (wait_ec || self->stopped) return;
      self->do_accept();
    });
  }

  void log(const std::string& line) {
    if (options.log) return options.log(line);
    fmt::print(stderr, "pathbench: {}: {}\n", what, line);
  }

  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;  // the loop's handlers
  tcp::acceptor acceptor;
  asio::steady_timer timer;
  const std::string what;
  const ListenerOptions options;
  std::string address;  // for log lines

  std::mutex mutex;  // guards acceptor, timer, on_accept, started, stopped, backoff_ns
  OnAccept on_accept;
  bool started = false;
  bool stopped = false;
  Nanos backoff_ns = 0;  // 0 = the last accept succeeded

  std::atomic<std::uint64_t> accepted{0}, failed{0}, backoffs{0};
};

Listener::Listener(asio::io_context& io, const std::string& listen, std::string what, ListenerOptions options)
    : state_(std::make_shared<State>(io, std::move(what), std::move(options))) {
  const auto parsed = parse_host_port(listen, /*allow_port_zero=*/true);
  if (!parsed)
    throw std::runtime_error(fmt::format("{}: bad listen address \"{}\" (expected host:port)", state_->what, listen));
  bind(*parsed);
}

Listener::Listener(asio::io_context& io, const HostPort& listen, std::string what, ListenerOptions options)
    : state_(std::make_shared<State>(io, std::move(what), std::move(options))) {
  bind(listen);
}

void Listener::bind(const HostPort& listen) {
  const std::string& what = state_->what;
  check_listen_security(what, listen.to_string(), state_->options.tls);
  error_code ec;
  const auto ip = asio::ip::make_address(listen.host, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: bad listen address \"{}\": {}", what, listen.to_string(), ec.message()));
  const tcp::endpoint endpoint(ip, listen.port);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  // A restarted server binds the port its predecessor's connections still hold in TIME_WAIT.
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot listen on {}: {}", what, listen.to_string(), ec.message()));
  bound_ = HostPort{listen.host, acceptor.local_endpoint(ec).port()};
  state_->address = bound_.to_string();
}

Listener::~Listener() { stop(); }

void Listener::start(OnAccept on_accept) {
  std::lock_guard lock(state_->mutex);
  if (state_->started || state_->stopped) return;
  state_->started = true;
  state_->on_accept = std::move(on_accept);
  state_->do_accept();
}

void Listener::stop() noexcept {
  std::lock_guard lock(state_->mutex);
  if (state_->stopped) return;
  state_->stopped = true;
  error_code ignored;
  state_->acceptor.close(ignored);  // pending accept ends with operation_aborted; the port is free
  state_->timer.cancel();
  state_->on_accept = nullptr;  // what it captures goes now, not when the queued handlers do
}

ListenerStats Listener::stats() const noexcept {
  return {state_->accepted.load(std::memory_order_relaxed), state_->failed.load(std::memory_order_relaxed),
          state_->backoffs.load(std::memory_order_relaxed)};
}

}  // namespace pathbench::net
