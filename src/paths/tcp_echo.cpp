#include "paths/tcp_echo.h"

#include <fmt/format.h>

#include <boost/asio.hpp>
#include <cstring>
#include <optional>
#include <vector>

#include "core/host_port.h"
#include "roles/echo_server.h"

namespace pathbench {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::size_t kHeaderBytes = 16;

// Requests in flight on one connection, in send order (the echo keeps order). A ring, sized
// once, so the hot path never allocates.
class InFlightRing {
 public:
  explicit InFlightRing(std::size_t capacity) : entries_(capacity) {}
  bool push(std::uint32_t slot, std::uint64_t id) noexcept {
    if (size_ == entries_.size()) return false;
    entries_[(head_ + size_++) % entries_.size()] = {slot, id};
    return true;
  }
  bool empty() const noexcept { return size_ == 0; }
  std::pair<std::uint32_t, std::uint64_t> pop() noexcept {
    auto e = entries_[head_];
    head_ = (head_ + 1) % entries_.size();
    --size_;
    return e;
  }

 private:
  std::vector<std::pair<std::uint32_t, std::uint64_t>> entries_;
  std::size_t head_ = 0, size_ = 0;
};

class EchoConnection {
 public:
  EchoConnection(asio::io_context& io, CompletionSink& sink, std::size_t message_bytes, std::size_t max_in_flight)
      : socket_(io), sink_(sink), message_bytes_(message_bytes), in_flight_(max_in_flight),
        read_buffer_(std::max<std::size_t>(64 * 1024, message_bytes * 4)) {
    writing_.reserve(message_bytes * 64);
    pending_.reserve(message_bytes * 64);
  }

  void connect(const tcp::endpoint& endpoint, std::function<void(boost::system::error_code)> done) {
    socket_.async_connect(endpoint, [this, done = std::move(done)](boost::system::error_code ec) {
      if (!ec) {
        socket_.set_option(tcp::no_delay(true), ec);
        alive_ = true;
        do_read();
      }
      done(ec);
    });
  }

  bool alive() const noexcept { return alive_; }

  void send(std::uint32_t slot, std::uint64_t id) {
    if (!in_flight_.push(slot, id)) {
      sink_.complete(slot, id, Outcome::rejected);  // cannot happen with capacity = the thread's slots
      return;
    }
    std::size_t at = pending_.size();
    pending_.resize(at + message_bytes_);
    auto length = static_cast<std::uint32_t>(message_bytes_);
    std::memcpy(&pending_[at], &length, 4);
    std::memcpy(&pending_[at + 4], &slot, 4);
    std::memcpy(&pending_[at + 8], &id, 8);
    if (!write_in_flight_) do_write();
  }

  void close() {
    boost::system::error_code ignored;
    alive_ = false;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  // One write in flight; messages queued meanwhile go out together in the next write.
  void do_write() {
    writing_.swap(pending_);
    pending_.clear();
    write_in_flight_ = true;
    asio::async_write(socket_, asio::buffer(writing_), [this](boost::system::error_code ec, std::size_t) {
      write_in_flight_ = false;
      if (ec) return fail();
      if (!pending_.empty()) do_write();
    });
  }

  void do_read() {
    socket_.async_read_some(asio::buffer(read_buffer_.data() + read_bytes_, read_buffer_.size() - read_bytes_),
                            [this](boost::system::error_code ec, std::size_t n) { on_read(ec, n); });
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    if (ec) return fail();
    read_bytes_ += n;
    std::size_t offset = 0;
    while (read_bytes_ - offset >= message_bytes_) {
      const char* m = read_buffer_.data() + offset;
      std::uint32_t length, slot;
      std::uint64_t id;
      std::memcpy(&length, m, 4);
      std::memcpy(&slot, m + 4, 4);
      std::memcpy(&id, m + 8, 8);
      if (length != message_bytes_ || in_flight_.empty()) return fail(Outcome::protocol_error);
      auto expected = in_flight_.pop();
      if (expected.first != slot || expected.second != id) {
        sink_.complete(expected.first, expected.second, Outcome::protocol_error);
        return fail(Outcome::protocol_error);
      }
      sink_.complete(slot, id, Outcome::ok);
      offset += message_bytes_;
    }
    std::memmove(read_buffer_.data(), read_buffer_.data() + offset, read_bytes_ - offset);
    read_bytes_ -= offset;
    if (alive_) do_read();
  }

  // Every request still waiting on this connection fails with it.
  void fail(Outcome outcome = Outcome::transport_error) {
    if (!alive_ && in_flight_.empty()) return;
    close();
    while (!in_flight_.empty()) {
      auto [slot, id] = in_flight_.pop();
      sink_.complete(slot, id, outcome);
    }
  }

  tcp::socket socket_;
  CompletionSink& sink_;
  std::size_t message_bytes_;
  InFlightRing in_flight_;
  std::vector<char> read_buffer_;
  std::size_t read_bytes_ = 0;
  std::vector<char> writing_, pending_;
  bool write_in_flight_ = false;
  bool alive_ = false;
};

class TcpEchoClient final : public PathClient {
 public:
  TcpEchoClient(asio::io_context& io, CompletionSink& sink, tcp::endpoint endpoint, const Scenario& scenario,
                const PathSpec& spec)
      : sink_(sink), endpoint_(endpoint), connect_timer_(io), deadline_ns_(scenario.load.deadline_ns) {
    std::size_t max_in_flight = static_cast<std::size_t>(scenario.load.concurrency);
    for (int i = 0; i < spec.connections; ++i)
      connections_.push_back(std::make_unique<EchoConnection>(io, sink, spec.message_bytes, max_in_flight));
  }

  void start(std::function<void(std::string)> done) override {
    done_ = std::move(done);
    remaining_ = connections_.size();
    connect_timer_.expires_after(std::chrono::nanoseconds(deadline_ns_));
    connect_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) finish_start(fmt::format("connecting to {} timed out", describe()));
    });
    for (auto& c : connections_) {
      c->connect(endpoint_, [this](boost::system::error_code ec) {
        if (ec) return finish_start(fmt::format("cannot connect to {}: {}", describe(), ec.message()));
        if (--remaining_ == 0) finish_start("");
      });
    }
  }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query&) override {
    // Round robin over the live connections.
    for (std::size_t tries = 0; tries < connections_.size(); ++tries) {
      auto& c = connections_[next_++ % connections_.size()];
      if (c->alive()) return c->send(slot, request_id);
    }
    sink_.complete(slot, request_id, Outcome::unavailable);
  }

  void stop() override {
    connect_timer_.cancel();
    for (auto& c : connections_) c->close();
  }

 private:
  std::string describe() const { return fmt::format("tcp://{}:{}", endpoint_.address().to_string(), endpoint_.port()); }
  void finish_start(std::string error) {
    if (!done_) return;
    connect_timer_.cancel();
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(error));
  }

  CompletionSink& sink_;
  tcp::endpoint endpoint_;
  asio::steady_timer connect_timer_;
  Nanos deadline_ns_;
  std::vector<std::unique_ptr<EchoConnection>> connections_;
  std::function<void(std::string)> done_;
  std::size_t remaining_ = 0;
  std::size_t next_ = 0;
};

// The echo server: spawned on loopback, or a running `pathbench serve echo` at [echo] endpoint.
class TcpEchoInstance final : public PathInstance {
 public:
  TcpEchoInstance(const Scenario& scenario, const PathSpec& spec) : scenario_(scenario), spec_(spec) {
    if (scenario.echo.endpoint.empty()) {
      server_.emplace(EchoServerOptions{});
      target_ = tcp::endpoint(asio::ip::make_address(server_->host()), server_->port());
      return;
    }
    const auto hp = parse_host_port(scenario.echo.endpoint);  // the loader checked the form
    if (!hp) throw std::runtime_error(fmt::format("echo.endpoint \"{}\" is not host:port", scenario.echo.endpoint));
    asio::io_context io;
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
    if (ec || results.empty())
      throw std::runtime_error(fmt::format("cannot resolve echo.endpoint {}: {}", scenario.echo.endpoint, ec.message()));
    target_ = results.begin()->endpoint();
  }

  std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, int) override {
    return std::make_unique<TcpEchoClient>(io, sink, target_, scenario_, spec_);
  }
  std::string endpoint() const override {
    const auto address = target_.address();
    if (address.is_v6()) return fmt::format("tcp://[{}]:{}", address.to_string(), target_.port());
    return fmt::format("tcp://{}:{}", address.to_string(), target_.port());
  }

 private:
  const Scenario& scenario_;
  const PathSpec& spec_;
  std::optional<EchoServer> server_;  // none with an external echo server
  tcp::endpoint target_;
};

}  // namespace

std::unique_ptr<PathInstance> create_tcp_echo(const Scenario& scenario, const PathSpec& spec, Endpoints&) {
  return std::make_unique<TcpEchoInstance>(scenario, spec);
}

}  // namespace pathbench
