#include "paths/broker_http.h"

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <nlohmann/json.hpp>

#include "core/host_port.h"
#include "paths/broker_client_base.h"
#include "paths/endpoints.h"

namespace pathbench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

// A keep-alive HTTP/1.1 connection with one request in flight and a queue behind it.
class HttpLane {
 public:
  using Done = std::function<void(boost::system::error_code, unsigned status, std::string body)>;
  HttpLane(asio::io_context& io, std::string host_port) : socket_(io), host_port_(std::move(host_port)) {}

  void connect(std::function<void(boost::system::error_code)> done) {
    const auto hp = parse_host_port(host_port_);
    if (!hp) return done(asio::error::invalid_argument);
    boost::system::error_code ec;
    tcp::endpoint ep(asio::ip::make_address(hp->host, ec), hp->port);
    if (ec) return done(ec);
    socket_.async_connect(ep, [this, done = std::move(done)](boost::system::error_code ec) {
      if (!ec) socket_.set_option(tcp::no_delay(true), ec);
      open_ = !ec;
      done(ec);
    });
  }
  void post(std::string target, std::string body, Done done) {
    queue_.push_back({std::move(target), std::move(body), std::move(done)});
    if (!busy_) next();
  }
  void close() {
    boost::system::error_code ignored;
    open_ = false;
    socket_.close(ignored);
  }
  bool open() const noexcept { return open_; }

 private:
  struct Pending {
    std::string target, body;
    Done done;
  };
  void next() {
    if (queue_.empty() || !open_) return;
    busy_ = true;
    Pending& p = queue_.front();
    request_ = {http::verb::post, p.target, 11};
    request_.set(http::field::host, host_port_);
    request_.set(http::field::content_type, "application/json");
    request_.keep_alive(true);
    request_.body() = std::move(p.body);
    request_.prepare_payload();
    http::async_write(socket_, request_, [this](boost::system::error_code ec, std::size_t) {
      if (ec) return failed(ec);
      response_ = {};
      http::async_read(socket_, buffer_, response_, [this](boost::system::error_code ec, std::size_t) {
        if (ec) return failed(ec);
        Done done = std::move(queue_.front().done);
        queue_.pop_front();
        busy_ = false;
        done({}, response_.result_int(), std::move(response_.body()));
        if (!busy_) next();  // done() may have started the next request already
      });
    });
  }
  void failed(boost::system::error_code ec) {
    open_ = false;
    busy_ = false;
    auto pending = std::move(queue_);
    queue_.clear();
    for (auto& p : pending) p.done(ec, 0, {});
  }

  tcp::socket socket_;
  std::string host_port_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  std::deque<Pending> queue_;
  bool busy_ = false, open_ = false;
};

// Subscribes once to the thread's subject, publishes each message with /api/publish (one lane),
// and polls /api/fetch on another lane while messages are out.
class HttpBrokerClient final : public BrokerClientBase {
 public:
  HttpBrokerClient(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings, std::string address)
      : BrokerClientBase(io, sink, std::move(settings)), address_(std::move(address)), publish_(io, address_),
        fetch_(io, address_), poll_timer_(io) {}

  void start(std::function<void(std::string)> done) override {
    begin_start(std::move(done), fmt::format("connecting to http://{}/api", address_));
    publish_.connect([this](boost::system::error_code ec) {
      if (ec) return finish_start(fmt::format("cannot connect to http://{}: {}", address_, ec.message()));
      if (++connected_ == 2) subscribe();
    });
    fetch_.connect([this](boost::system::error_code ec) {
      if (ec) return finish_start(fmt::format("cannot connect to http://{}: {}", address_, ec.message()));
      if (++connected_ == 2) subscribe();
    });
  }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query&) override {
    if (!publish_.open()) return sink_.complete(slot, request_id, Outcome::unavailable);
    track(slot, request_id);
    const std::uint64_t wire = wire_id(slot, request_id);
    publish_.post("/api/publish", nlohmann::json{{"subject", s_.queue}, {"data", make_broker_body(wire, s_.message_bytes)}}.dump(),
                  [this, wire](boost::system::error_code ec, unsigned status, std::string) {
                    if (ec) return fail_all(Outcome::transport_error);
                    if (status == 200) {
                      ++waiting_;
                      if (!fetching_) fetch();
                      return;
                    }
                    finish(slot_of(wire), id_of(wire), status == 507 ? Outcome::rejected : Outcome::server_error);
                  });
  }

  void stop() override {
    stopped_ = true;
    start_timer_.cancel();
    poll_timer_.cancel();
    publish_.close();
    fetch_.close();
  }

 private:
  void subscribe() {
    fetch_.post("/api/subscribe", nlohmann::json{{"subject", s_.queue}}.dump(),
                [this](boost::system::error_code ec, unsigned status, std::string body) {
                  const auto reply = nlohmann::json::parse(body, nullptr, false);
                  if (ec || status != 200 || !reply.is_object() || !reply.contains("id") || !reply["id"].is_string())
                    return finish_start(fmt::format("subscribe at http://{}/api/subscribe failed: {} {}", address_, status, body));
                  id_ = reply["id"].get<std::string>();
                  finish_start("");
                });
  }

  void fetch() {
    if (stopped_ || waiting_ == 0) return;
    fetching_ = true;
    fetch_.post("/api/fetch", nlohmann::json{{"subject", s_.queue}, {"id", id_}}.dump(),
                [this](boost::system::error_code ec, unsigned status, std::string body) {
                  fetching_ = false;
                  if (ec || status != 200) return fail_all(ec ? Outcome::transport_error : Outcome::server_error);
                  // {"subject":...,"id":...,"data":["<body>",...]}: every string in data is one message.
                  std::size_t got = 0;
                  const auto reply = nlohmann::json::parse(body, nullptr, false);
                  if (reply.is_object() && reply.contains("data") && reply["data"].is_array()) {
                    for (auto& message : reply["data"]) {
                      if (!message.is_string()) continue;
                      finish_body(message.get_ref<const std::string&>());
                      ++got;
                    }
                  }
                  waiting_ -= std::min(waiting_, got);
                  if (got > 0) return fetch();
                  // Nothing yet: poll again after a short pause; the loop stays "fetching" meanwhile
                  // so a publish's answer does not start a second one.
                  fetching_ = true;
                  poll_timer_.expires_after(std::chrono::nanoseconds(kBrokerPollBackoffNs));
                  poll_timer_.async_wait([this](boost::system::error_code ec) {
                    fetching_ = false;
                    if (!ec) fetch();
                  });
                });
  }

  std::string address_;
  HttpLane publish_, fetch_;
  asio::steady_timer poll_timer_;
  std::string id_;
  std::size_t waiting_ = 0;  // published, not yet fetched
  int connected_ = 0;
  bool fetching_ = false;
};

std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings,
                                        const std::string& address, int) {
  return std::make_unique<HttpBrokerClient>(io, sink, std::move(settings), address);
}

}  // namespace

std::unique_ptr<PathInstance> create_broker_http(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  auto& server = endpoints.broker_server();
  return std::make_unique<BrokerFrontInstance>(scenario, spec, server.http_address(), "http://" + server.http_address() + "/api", &make_client);
}

}  // namespace pathbench
