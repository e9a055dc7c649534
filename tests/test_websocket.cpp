// The WebSocket fronts (net/websocket, the worker's, the balancer's) with a client built on the
// same net::ws_connect: many requests in flight per connection, the limits and close codes
// (1009 for a message too big, 1002 for frames that are not QueryRequests, 1013 past
// max_connections) hitting only the offending connection, deadlines, and the balancer's
// WebSocket routing surviving a dead worker. Python's websockets library checks the same
// fronts independently (tests/python/ws_client.py).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "db/seeder.h"
#include "net/websocket.h"
#include "pathbench.pb.h"
#include "roles/balancer.h"
#include "roles/worker.h"
#include "test_helpers.h"

using namespace pathbench;

namespace {

const std::filesystem::path& ws_db() {
  static testing::TempDir dir;
  static const std::filesystem::path path = [] {
    auto p = dir / "ws.db";
    seed_database({p, 5'000, 3, false});
    return p;
  }();
  return path;
}

std::unique_ptr<WorkerServer> start_worker(const std::string& id, std::int64_t ws_max_bytes = 1 << 20) {
  WorkerOptions o;
  o.id = id;
  o.db_path = ws_db();
  o.threads = 1;
  o.ws_max_message_bytes = ws_max_bytes;
  return std::make_unique<WorkerServer>(o);
}

// A blocking client over net::ws_connect, on its own io thread.
class Client {
 public:
  explicit Client(const std::string& address, std::size_t max_message_bytes = 16 << 20) {
    thread_ = std::thread([this] { io_.run(); });
    net::WsLimits limits;
    limits.max_message_bytes = max_message_bytes;
    std::promise<std::string> connected;
    net::ws_connect(
        io_, address, "/query", limits,
        {[this](const std::shared_ptr<net::WsChannel>&, std::string_view payload, bool) {
           std::lock_guard lock(mutex_);
           messages_.emplace_back(payload);
           cv_.notify_all();
         },
         [this](const std::shared_ptr<net::WsChannel>&, const std::string& reason) {
           std::lock_guard lock(mutex_);
           closed_ = true;
           close_reason_ = reason;
           cv_.notify_all();
         }},
        [this, &connected](std::shared_ptr<net::WsChannel> channel, std::string error) {
          channel_ = std::move(channel);
          connected.set_value(error);
        });
    error_ = connected.get_future().get();
  }
  ~Client() {
    if (channel_) channel_->abort();
    work_.reset();
    thread_.join();
  }
  const std::string& error() const { return error_; }

  void send(const v1::QueryRequest& request) { channel_->send(request.SerializeAsString()); }
  void send_raw(std::string bytes, bool binary = true) { channel_->send(std::move(bytes), binary); }

  // Waits for `count` replies (or the close / 5 s); returns what came.
  std::vector<v1::QueryReply> replies(std::size_t count) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return messages_.size() >= count || closed_; });
    std::vector<v1::QueryReply> out;
    for (auto& m : messages_) {
      out.emplace_back();
      REQUIRE(out.back().ParseFromString(m));
    }
    messages_.clear();
    return out;
  }
  // Waits for the close and returns its reason ("" when still open after 5 s).
  std::string wait_closed() {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return closed_; });
    return closed_ ? close_reason_ : std::string();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  std::shared_ptr<net::WsChannel> channel_;
  std::string error_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> messages_;
  bool closed_ = false;
  std::string close_reason_;
};

v1::QueryRequest request(std::uint64_t id, v1::QueryKind kind = v1::QUERY_KIND_ECHO) {
  v1::QueryRequest r;
  r.set_request_id(id);
  r.set_kind(kind);
  r.set_sale_id(static_cast<std::int64_t>(id % 4000 + 1));
  r.set_timeout_ns(2 * kNanosPerSecond);
  return r;
}

}  // namespace

TEST_CASE("websocket worker front: many requests in flight on one connection, each answered once") {
  auto worker = start_worker("ws-w0");
  REQUIRE_FALSE(worker->ws_address().empty());
  Client client(worker->ws_address());
  REQUIRE(client.error() == "");
  constexpr int kRequests = 600;
  for (int i = 1; i <= kRequests; ++i) client.send(request(i, i % 2 ? v1::QUERY_KIND_ECHO : v1::QUERY_KIND_POINT));
  std::vector<v1::QueryReply> replies;
  while (replies.size() < kRequests) {
    auto more = client.replies(kRequests - replies.size());
    if (more.empty()) break;
    replies.insert(replies.end(), more.begin(), more.end());
  }
  REQUIRE(replies.size() == kRequests);
  std::set<std::uint64_t> ids;
  for (auto& r : replies) {
    CHECK(r.status().code() == 0);
    CHECK(r.worker_id() == "ws-w0");
    ids.insert(r.request_id());
  }
  CHECK(ids.size() == kRequests);
  CHECK(worker->stats().ok == kRequests);
}

TEST_CASE("websocket worker front: invalid query answered INVALID_ARGUMENT naming the field, connection stays") {
  auto worker = start_worker("ws-w1");
  Client client(worker->ws_address());
  auto bad = request(1, v1::QUERY_KIND_HEAVY);
  bad.set_from_epoch_s(1'704'067'200);
  bad.set_to_epoch_s(1'704'067'200 + 7 * 86'400);
  bad.set_category_id(1);
  bad.set_minute_from(0);
  bad.set_minute_to(5000);
  client.send(bad);
  auto replies = client.replies(1);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status().code() == 3);
  CHECK(replies[0].status().message().find("minute_to") != std::string::npos);
  client.send(request(2));
  replies = client.replies(1);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].request_id() == 2);
  CHECK(replies[0].status().code() == 0);
}

TEST_CASE("websocket worker front: an oversized message closes only that connection with 1009") {
  auto worker = start_worker("ws-w2", 64 * 1024);
  Client good(worker->ws_address());
  Client big(worker->ws_address());
  REQUIRE(good.error() == "");
  REQUIRE(big.error() == "");
  auto r = request(1);
  r.set_padding(std::string(100 * 1024, 'x'));
  big.send(r);
  const std::string reason = big.wait_closed();
  INFO("close: ", reason);
  CHECK(reason.find("1009") != std::string::npos);
  good.send(request(2));
  auto replies = good.replies(1);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].request_id() == 2);
}

TEST_CASE("websocket worker front: text frames and bytes that are not a QueryRequest close with 1002") {
  auto worker = start_worker("ws-w3");
  Client text(worker->ws_address());
  text.send_raw("hello", false);
  CHECK(text.wait_closed().find("1002") != std::string::npos);
  Client garbage(worker->ws_address());
  garbage.send_raw(std::string("\xff\xff\xff\xff\xff\x01\x02", 7));
  CHECK(garbage.wait_closed().find("1002") != std::string::npos);
  Client fine(worker->ws_address());
  fine.send(request(9));
  CHECK(fine.replies(1).size() == 1);
}

TEST_CASE("websocket worker front: the request's time budget is the deadline") {
  auto worker = start_worker("ws-w4");
  worker->set_added_delay(300 * kNanosPerMilli);
  Client client(worker->ws_address());
  auto r = request(5, v1::QUERY_KIND_POINT);
  r.set_timeout_ns(30 * kNanosPerMilli);
  client.send(r);
  auto replies = client.replies(1);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status().code() == 4);  // DEADLINE_EXCEEDED
}

namespace {
struct EchoHandler final : net::WsHandler {
  bool accepts(std::string_view target) const override { return target == "/echo"; }
  void on_message(const std::shared_ptr<net::WsChannel>& c, std::string_view payload, bool binary) override {
    c->send(std::string(payload), binary);
  }
};
}  // namespace

TEST_CASE("websocket server: past max_connections a new connection is closed with 1013, others keep working") {
  EchoHandler handler;
  net::WsServerOptions o;
  o.max_connections = 1;
  net::WsServer server(o, handler);
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread thread([&] { io.run(); });
  std::promise<std::shared_ptr<net::WsChannel>> first_p, second_p;
  std::promise<std::string> second_closed, first_echo;
  net::ws_connect(io, server.address(), "/echo", {},
                  {[&](const std::shared_ptr<net::WsChannel>&, std::string_view p, bool) { first_echo.set_value(std::string(p)); },
                   nullptr},
                  [&](std::shared_ptr<net::WsChannel> c, std::string) { first_p.set_value(c); });
  auto first = first_p.get_future().get();
  REQUIRE(first);
  net::ws_connect(io, server.address(), "/echo", {},
                  {nullptr, [&](const std::shared_ptr<net::WsChannel>&, const std::string& r) { second_closed.set_value(r); }},
                  [&](std::shared_ptr<net::WsChannel> c, std::string) { second_p.set_value(c); });
  auto second = second_p.get_future().get();
  REQUIRE(second);
  auto closed = second_closed.get_future();
  REQUIRE(closed.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(closed.get().find("1013") != std::string::npos);
  first->send("still here");
  auto echo = first_echo.get_future();
  REQUIRE(echo.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(echo.get() == "still here");
  // An unknown target is refused at the handshake.
  std::promise<std::string> refused;
  net::ws_connect(io, server.address(), "/nope", {}, {}, [&](std::shared_ptr<net::WsChannel> c, std::string e) {
    refused.set_value(c ? std::string("accepted") : e);
  });
  CHECK(refused.get_future().get().find("failed") != std::string::npos);
  first->abort();
  work.reset();
  server.stop();
  thread.join();
}

TEST_CASE("websocket via the balancer: routed to the workers, a dead worker is ejected and the rest keep answering") {
  auto w0 = start_worker("ws-b0");
  auto w1 = start_worker("ws-b1");
  BalancerOptions o;
  o.workers = {w0->address(), w1->address()};
  o.worker_ws = {w0->ws_address(), w1->ws_address()};
  o.health_interval_ns = 100 * kNanosPerMilli;
  o.health_timeout_ns = 100 * kNanosPerMilli;
  BalancerServer balancer(o);
  REQUIRE_FALSE(balancer.ws_address().empty());
  // The balancer connects to the workers in the background.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Client client(balancer.ws_address());
  REQUIRE(client.error() == "");
  std::map<std::string, int> by_worker;
  for (int i = 1; i <= 100; ++i) client.send(request(i, v1::QUERY_KIND_POINT));
  auto replies = client.replies(100);
  REQUIRE(replies.size() == 100);
  for (auto& r : replies) {
    CHECK(r.status().code() == 0);
    CHECK(r.balancer_ns() > 0);
    ++by_worker[r.worker_id()];
  }
  CHECK(by_worker.size() == 2);

  w0->drain(0);  // dies: its connections drop without a close
  w0.reset();
  int errors = 0;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 20; ++i) client.send(request(1000 + round * 20 + i, v1::QUERY_KIND_POINT));
    for (auto& r : client.replies(20)) {
      if (r.status().code() != 0) ++errors;
      else CHECK(r.worker_id() == "ws-b1");
    }
  }
  CHECK(errors <= 2);  // at most what was routed to the dead worker before it was ejected
  auto stats = balancer.stats();
  CHECK(stats.backends[0].ejected);
  CHECK(stats.received == stats.forwarded + stats.rejected + stats.unavailable);
}

TEST_CASE("websocket server: a peer that never completes the handshake is cut after the handshake timeout") {
  EchoHandler handler;
  net::WsServerOptions o;
  o.limits.handshake_timeout_ns = 200 * kNanosPerMilli;
  net::WsServer server(o, handler);
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  const auto colon = server.address().rfind(':');
  socket.connect({boost::asio::ip::make_address(server.address().substr(0, colon)),
                  static_cast<unsigned short>(std::stoi(server.address().substr(colon + 1)))});
  socket.write_some(boost::asio::buffer(std::string("GET /echo HTTP/1.1\r\nHost: x\r\n")));  // and then nothing
  const Nanos start = now_ns();
  char byte = 0;
  boost::system::error_code ec;
  socket.read_some(boost::asio::buffer(&byte, 1), ec);  // returns when the server gives up
  const Nanos waited = now_ns() - start;
  CHECK(ec);
  CHECK(waited >= 150 * kNanosPerMilli);
  CHECK(waited < 3 * kNanosPerSecond);
}
