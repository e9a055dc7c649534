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
// time on the connection's own io_context (one thread), so no strand is needed. Idle
// connections are closed by a coarse check every quarter of the idle timeout (closed after
// four quiet checks in a row): re-arming a timer on every read would cost a timerfd_settime
// system call per message, on the path the floor measures.
class EchoSession : public std::enable_shared_from_this<EchoSession> {
 public:
  EchoSession(tcp::socket socket, Nanos idle_timeout_ns)
      : socket_(std::move(socket)), idle_timer_(socket_.get_executor()), idle_timeout_ns_(idle_timeout_ns) {}

  void start() {
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    // The synchronous write_some in on_read returns would_block at once instead of waiting.
    socket_.non_blocking(true, ec);
    arm_idle_check();
    do_read();
  }

 private:
  static constexpr int kQuietChecks = 4;

  void do_read() {
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](auto ec, std::size_t n) {
      self->on_read(ec, n);
    });
  }
  // Writes what was read back at once (non-blocking): a message the socket takes whole needs no
  // write completion handler, so the thread goes straight back to reading (one epoll_wait per
  // message instead of two: 3 system calls per round trip, as sockperf's server). The rest of a
  // short write goes through async_write.
  void on_read(boost::system::error_code ec, std::size_t n) {
    if (ec) return close();
    ++reads_;
    const std::size_t written = socket_.write_some(asio::buffer(buffer_.data(), n), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return close();
    if (written == n) return do_read();
    asio::async_write(socket_, asio::buffer(buffer_.data() + written, n - written),
                      [self = shared_from_this()](auto ec, std::size_t) { self->on_write(ec); });
  }
  void on_write(boost::system::error_code ec) {
    if (ec) return close();
    do_read();
  }
  void arm_idle_check() {
    idle_timer_.expires_after(std::chrono::nanoseconds(std::max<Nanos>(idle_timeout_ns_ / kQuietChecks, 1)));
    idle_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->on_idle_check();
    });
  }
  void on_idle_check() {
    if (reads_ != reads_at_check_) {
      reads_at_check_ = reads_;
      quiet_checks_ = 0;
    } else if (++quiet_checks_ >= kQuietChecks) {
      return close();
    }
    arm_idle_check();
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
  std::uint64_t reads_ = 0, reads_at_check_ = 0;
  int quiet_checks_ = 0;
  std::array<char, 64 * 1024> buffer_;
};

}  // namespace

// One io_context per thread, connections dealt round robin: a read completion runs on the
// thread that waited for it, never handed to another thread through a shared scheduler.
struct EchoServer::Impl {
  explicit Impl(const EchoServerOptions& o) : options(o), ios(static_cast<std::size_t>(std::max(1, o.threads))) {
    for (auto& io : ios) works.emplace_back(asio::make_work_guard(io));
    listener.emplace(ios[0], HostPort{o.host, o.port}, "echo server");
    listener->start([this](tcp::socket socket) {
      asio::io_context& io = ios[next_io++ % ios.size()];
      boost::system::error_code ec;
      tcp::socket moved(io);
      const auto protocol = socket.local_endpoint(ec).protocol();
      if (!ec) moved.assign(protocol, socket.release(ec), ec);
      if (ec) return;  // the peer went away already; the socket is closed with it
      std::make_shared<EchoSession>(std::move(moved), options.idle_timeout_ns)->start();
    });
    for (std::size_t i = 0; i < ios.size(); ++i) {
      threads.emplace_back([this, i] {
        pthread_setname_np(pthread_self(), fmt::format("pb-echo-{}", i).c_str());
        ios[i].run();
      });
    }
  }
  ~Impl() {
    listener->stop();
    works.clear();
    for (auto& io : ios) io.stop();
    for (auto& t : threads) t.join();
  }
  EchoServerOptions options;
  std::vector<asio::io_context> ios;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> works;
  std::optional<net::Listener> listener;  // after ios: closed before they go
  std::size_t next_io = 0;                // the listener's thread only
  std::vector<std::thread> threads;
};

EchoServer::EchoServer(const EchoServerOptions& options) : impl_(std::make_unique<Impl>(options)) {}
EchoServer::~EchoServer() = default;
std::uint16_t EchoServer::port() const noexcept { return impl_->listener->port(); }
std::string EchoServer::host() const { return impl_->options.host; }
std::uint64_t EchoServer::connections_accepted() const noexcept { return impl_->listener->stats().accepted; }

}  // namespace pathbench
