#include "roles/echo_server.h"

#include <fmt/format.h>
#include <pthread.h>

#include <array>
#include <optional>
#include <atomic>
#include <boost/asio.hpp>
#include <thread>
#include <vector>

#include "net/listener.h"

namespace pathbench {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// One connection: read some, write it all back, read again. One operation in flight at a
// time, so the strand is implicit; the idle timer closes connections nobody uses.
class EchoSession : public std::enable_shared_from_this<EchoSession> {
 public:
  EchoSession(tcp::socket socket, Nanos idle_timeout_ns)
      : socket_(std::move(socket)), idle_timer_(socket_.get_executor()), idle_timeout_ns_(idle_timeout_ns) {}

  void start() {
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    do_read();
  }

 private:
  void do_read() {
    arm_idle_timer();
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](auto ec, std::size_t n) {
      self->on_read(ec, n);
    });
  }
  void on_read(boost::system::error_code ec, std::size_t n) {
    if (ec) return close();
    asio::async_write(socket_, asio::buffer(buffer_.data(), n),
                      [self = shared_from_this()](auto ec, std::size_t) { self->on_write(ec); });
  }
  void on_write(boost::system::error_code ec) {
    if (ec) return close();
    do_read();
  }
  void arm_idle_timer() {
    idle_timer_.expires_after(std::chrono::nanoseconds(idle_timeout_ns_));
    idle_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->close();
    });
  }
  void close() {
    boost::system::error_code ignored;
    idle_timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer idle_timer_;
  Nanos idle_timeout_ns_;
  std::array<char, 64 * 1024> buffer_;
};

}  // namespace

struct EchoServer::Impl {
  explicit Impl(const EchoServerOptions& o)
      : options(o), listener(io, HostPort{o.host, o.port}, "echo server") {
    listener.start([this](tcp::socket socket) {
      std::make_shared<EchoSession>(std::move(socket), options.idle_timeout_ns)->start();
    });
    for (int i = 0; i < std::max(1, o.threads); ++i) {
      threads.emplace_back([this, i] {
        pthread_setname_np(pthread_self(), fmt::format("pb-echo-{}", i).c_str());
        io.run();
      });
    }
  }
  ~Impl() {
    listener.stop();
    work.reset();
    io.stop();
    for (auto& t : threads) t.join();
  }
  EchoServerOptions options;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{asio::make_work_guard(io)};
  net::Listener listener;  // after io: closed before it goes
  std::vector<std::thread> threads;
};

EchoServer::EchoServer(const EchoServerOptions& options) : impl_(std::make_unique<Impl>(options)) {}
EchoServer::~EchoServer() = default;
std::uint16_t EchoServer::port() const noexcept { return impl_->listener.port(); }
std::string EchoServer::host() const { return impl_->options.host; }
std::uint64_t EchoServer::connections_accepted() const noexcept { return impl_->listener.stats().accepted; }

}  // namespace pathbench
