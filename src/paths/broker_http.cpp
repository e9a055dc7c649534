#include "paths/broker_http.h"

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <memory>
#include <vector>
#include <nlohmann/json.hpp>

#include "core/host_port.h"
#include "net/tls_stream.h"
#include "paths/broker_client_base.h"
#include "paths/endpoints.h"

namespace pathbench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

// A keep-alive HTTP/1.1 connection (https:// with a TLS context) with one request in flight and
// a queue behind it.
class HttpLane {
 public:
  using Done = std::function<void(boost::system::error_code, unsigned status, std::string body)>;
  HttpLane(asio::io_context& io, std::string host_port, std::shared_ptr<asio::ssl::context> tls, std::string server_name)
      : socket_(io.get_executor(), std::move(tls)), host_port_(std::move(host_port)), server_name_(std::move(server_name)) {}

  void connect(std::function<void(boost::system::error_code)> done) {
    const auto hp = parse_host_port(host_port_);
    if (!hp) return done(asio::error::invalid_argument);
    boost::system::error_code ec;
    tcp::endpoint ep(asio::ip::make_address(hp->host, ec), hp->port);
    if (ec) return done(ec);
    if (server_name_.empty()) server_name_ = hp->host;
    socket_.tcp_socket().async_connect(ep, [this, done = std::move(done)](boost::system::error_code ec) {
      if (ec) return done(ec);
      socket_.tcp_socket().set_option(tcp::no_delay(true), ec);
      socket_.async_handshake(/*server=*/false, server_name_, [this, done = std::move(done)](boost::system::error_code ec) {
        open_ = !ec;
        done(ec);
      });
    });
  }
  void post(std::string target, std::string body, Done done) {
    queue_.push_back({std::move(target), std::move(body), std::move(done)});
    if (!busy_) next();
  }
  void close() {
    open_ = false;
    socket_.close();
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

  net::TlsSocket socket_;
  std::string host_port_, server_name_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  std::deque<Pending> queue_;
  bool busy_ = false, open_ = false;
};

// Subscribes once to the thread's subject, publishes each message with /api/publish (or
// /api/publish/async with the path's `async = true`) on `producers` lanes in turn, and polls /api/fetch
// with that one subscription on `consumers` lanes while messages are out (the lanes compete for
// the subscriber's list, each fetch taking what is there).
class HttpBrokerClient final : public BrokerClientBase {
 public:
  HttpBrokerClient(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings, std::string address)
      : BrokerClientBase(io, sink, std::move(settings)), address_(std::move(address)),
        publish_target_(s_.publish_async ? "/api/publish/async" : "/api/publish"), scheme_(s_.tls ? "https" : "http") {
    // One OpenSSL context for every lane of this client thread.
    auto tls = s_.tls ? net::make_tls_context(*s_.tls, /*server=*/false, fmt::format("broker client https://{}", address_)) : nullptr;
    const std::string server_name = s_.tls ? s_.tls->server_name : "";
    for (int i = 0; i < std::max(s_.producers, 1); ++i)
      publish_.push_back(std::make_unique<HttpLane>(io, address_, tls, server_name));
    for (int i = 0; i < std::max(s_.consumers, 1); ++i)
      fetch_.push_back(std::make_unique<FetchLane>(io, address_, tls, server_name));
  }

  void start(std::function<void(std::string)> done) override {
    begin_start(std::move(done), fmt::format("connecting to {}://{}/api", scheme_, address_));
    auto connected = [this](boost::system::error_code ec) {
      if (ec) return finish_start(fmt::format("cannot connect to {}://{}: {}", scheme_, address_, ec.message()));
      if (++connected_ == publish_.size() + fetch_.size()) subscribe();
    };
    for (auto& lane : publish_) lane->connect(connected);
    for (auto& lane : fetch_) lane->http.connect(connected);
  }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query&) override {
    HttpLane& lane = *publish_[next_publish_];
    next_publish_ = (next_publish_ + 1) % publish_.size();
    if (!lane.open()) return sink_.complete(slot, request_id, Outcome::unavailable);
    track(slot, request_id);
    const std::uint64_t wire = wire_id(slot, request_id);
    lane.post(publish_target_, nlohmann::json{{"subject", s_.queue}, {"data", make_broker_body(wire, s_.message_bytes)}}.dump(),
              [this, wire](boost::system::error_code ec, unsigned status, std::string) {
                if (ec) return fail_all(Outcome::transport_error);
                if (status == 200) {
                  ++waiting_;
                  for (std::size_t i = 0; i < fetch_.size(); ++i)
                    if (!fetch_[i]->fetching) fetch(i);
                  return;
                }
                finish(slot_of(wire), id_of(wire), status == 507 ? Outcome::rejected : Outcome::server_error);
              });
  }

  void stop() override {
    stopped_ = true;
    start_timer_.cancel();
    for (auto& lane : publish_) lane->close();
    for (auto& lane : fetch_) {
      lane->poll_timer.cancel();
      lane->http.close();
    }
  }

 private:
  struct FetchLane {
    FetchLane(asio::io_context& io, const std::string& address, std::shared_ptr<asio::ssl::context> tls,
              const std::string& server_name)
        : http(io, address, std::move(tls), server_name), poll_timer(io) {}
    HttpLane http;
    asio::steady_timer poll_timer;
    bool fetching = false;  // a fetch or its pause is under way on this lane
  };

  void subscribe() {
    fetch_[0]->http.post("/api/subscribe", nlohmann::json{{"subject", s_.queue}}.dump(),
                         [this](boost::system::error_code ec, unsigned status, std::string body) {
                           const auto reply = nlohmann::json::parse(body, nullptr, false);
                           if (ec || status != 200 || !reply.is_object() || !reply.contains("id") || !reply["id"].is_string())
                             return finish_start(fmt::format("subscribe at http://{}/api/subscribe failed: {} {}", address_, status, body));
                           id_ = reply["id"].get<std::string>();
                           finish_start("");
                         });
  }

  void fetch(std::size_t index) {
    FetchLane& lane = *fetch_[index];
    if (stopped_ || waiting_ == 0) return;
    lane.fetching = true;
    lane.http.post("/api/fetch", nlohmann::json{{"subject", s_.queue}, {"id", id_}}.dump(),
                   [this, index](boost::system::error_code ec, unsigned status, std::string body) {
                     FetchLane& lane = *fetch_[index];
                     lane.fetching = false;
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
                     if (got > 0) return fetch(index);
                     // Nothing yet: poll again after a short pause; the lane stays "fetching"
                     // meanwhile so a publish's answer does not start a second fetch on it.
                     lane.fetching = true;
                     lane.poll_timer.expires_after(std::chrono::nanoseconds(kBrokerPollBackoffNs));
                     lane.poll_timer.async_wait([this, index](boost::system::error_code ec) {
                       fetch_[index]->fetching = false;
                       if (!ec) fetch(index);
                     });
                   });
  }

  std::string address_;
  const std::string publish_target_;
  const char* scheme_;  // "http" / "https"
  std::vector<std::unique_ptr<HttpLane>> publish_;   // `producers` lanes, used in turn
  std::vector<std::unique_ptr<FetchLane>> fetch_;    // `consumers` lanes; [0] also subscribes
  std::size_t next_publish_ = 0;
  std::string id_;
  std::size_t waiting_ = 0;  // published, not yet fetched
  std::size_t connected_ = 0;
};

std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings,
                                        const std::string& address, int) {
  return std::make_unique<HttpBrokerClient>(io, sink, std::move(settings), address);
}

}  // namespace

std::unique_ptr<PathInstance> create_broker_http(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  auto& server = endpoints.broker_server();
  return std::make_unique<BrokerFrontInstance>(scenario, spec, server.http_address(),
                                               std::string(server.tls() ? "https://" : "http://") + server.http_address() +
                                                   (spec.publish_async ? "/api/publish/async" : "/api"),
                                               &make_client, server.tls());
}

}  // namespace pathbench
