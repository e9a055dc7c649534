#include "paths/websocket.h"

#include <fmt/format.h>

#include <boost/asio/steady_timer.hpp>
#include <vector>

#include "net/tls_policy.h"
#include "net/websocket.h"
#include "paths/grpc_common.h"
#include "paths/endpoints.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

constexpr Nanos kMinBackoffNs = 50 * kNanosPerMilli, kMaxBackoffNs = 1 * kNanosPerSecond;

// Everything runs on the client thread's io_context (each channel's strand lives on it), so
// the bookkeeping needs no lock.
class WsPathClient final : public PathClient {
 public:
  WsPathClient(asio::io_context& io, CompletionSink& sink, const Scenario& scenario, const PathSpec& spec,
               const std::vector<std::string>& targets, std::shared_ptr<const TlsMaterial> tls, int thread_index)
      : io_(io), sink_(sink), deadline_ns_(scenario.load.deadline_ns), tls_(std::move(tls)), start_timer_(io) {
    for (int i = 0; i < spec.connections; ++i) {
      auto c = std::make_unique<Connection>(io);
      c->target = targets[static_cast<std::size_t>(thread_index * spec.connections + i) % targets.size()];
      connections_.push_back(std::move(c));
    }
  }

  void start(std::function<void(std::string)> done) override {
    start_done_ = std::move(done);
    waiting_ = connections_.size();
    start_timer_.expires_after(std::chrono::nanoseconds(deadline_ns_));
    start_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec)
        finish_start(fmt::format("connecting to {} timed out", net::ws_url(tls_ != nullptr, connections_.front()->target, "/query")));
    });
    for (auto& c : connections_) connect(*c);
  }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query& query) override {
    for (std::size_t tries = 0; tries < connections_.size(); ++tries) {
      const std::size_t index = next_++ % connections_.size();
      Connection& c = *connections_[index];
      if (!c.channel || !c.channel->open()) continue;
      if (slot >= by_slot_.size()) by_slot_.resize(slot + 1);
      by_slot_[slot] = {static_cast<int>(index), request_id};
      to_proto(query, 0, request_);
      request_.set_request_id(wire_id(slot, request_id));
      request_.set_timeout_ns(deadline_ns_);
      c.channel->send(request_.SerializeAsString());
      return;
    }
    sink_.complete(slot, request_id, Outcome::unavailable);
  }

  void stop() override {
    stopped_ = true;
    start_timer_.cancel();
    for (auto& c : connections_) {
      c->retry.cancel();
      // A clean close (1000) at the end of a run, after what is already queued.
      if (c->channel) c->channel->close(net::CloseCode::normal, "run over");
    }
  }

 private:
  struct Connection {
    explicit Connection(asio::io_context& io) : retry(io) {}
    std::string target;
    std::shared_ptr<net::WsChannel> channel;
    asio::steady_timer retry;
    Nanos backoff_ns = kMinBackoffNs;
  };
  struct InFlight {
    int connection = -1;
    std::uint64_t id = 0;
  };

  void connect(Connection& c) {
    if (stopped_) return;
    net::WsLimits limits;
    limits.handshake_timeout_ns = std::min<Nanos>(deadline_ns_, 5 * kNanosPerSecond);
    const int index = index_of(c);
    net::WsChannel::Callbacks callbacks{
        [this](const std::shared_ptr<net::WsChannel>& ch, std::string_view payload, bool) { on_reply(ch, payload); },
        [this, index](const std::shared_ptr<net::WsChannel>& ch, const std::string&) { on_closed(index, ch); }};
    net::ws_connect(io_, c.target, "/query", limits, tls_.get(), std::move(callbacks),
                    [this, &c](std::shared_ptr<net::WsChannel> channel, std::string error) {
                      if (!channel) {
                        if (start_done_) return finish_start(std::move(error));
                        return retry_later(c);
                      }
                      if (stopped_) return channel->close(net::CloseCode::normal, "run over");
                      c.channel = std::move(channel);
                      c.backoff_ns = kMinBackoffNs;
                      if (start_done_ && --waiting_ == 0) finish_start("");
                    });
  }

  void retry_later(Connection& c) {
    if (stopped_) return;
    c.retry.expires_after(std::chrono::nanoseconds(c.backoff_ns));
    c.backoff_ns = std::min(kMaxBackoffNs, c.backoff_ns * 2);
    c.retry.async_wait([this, &c](boost::system::error_code ec) {
      if (!ec) connect(c);
    });
  }

  void on_reply(const std::shared_ptr<net::WsChannel>& channel, std::string_view payload) {
    if (!reply_.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      // Unmatchable: the connection's requests fail with it (on_closed counts them).
      return channel->close(net::CloseCode::protocol_error, "not a pathbench.v1.QueryReply");
    }
    const std::uint32_t slot = slot_of(reply_.request_id());
    const std::uint64_t id = id_of(reply_.request_id());
    if (slot < by_slot_.size() && by_slot_[slot].id == id) by_slot_[slot] = {};
    const Hops hops = hops_from(reply_);
    // A reply for a request that already timed out is the load generator's to count as late.
    sink_.complete(slot, id, outcome_from_status(static_cast<grpc::StatusCode>(reply_.status().code())), &hops);
  }

  void on_closed(int index, const std::shared_ptr<net::WsChannel>& channel) {
    Connection& c = *connections_[static_cast<std::size_t>(index)];
    if (c.channel != channel) return;
    c.channel.reset();
    for (std::size_t slot = 0; slot < by_slot_.size(); ++slot) {
      if (by_slot_[slot].connection != index) continue;
      const std::uint64_t id = by_slot_[slot].id;
      by_slot_[slot] = {};
      sink_.complete(static_cast<std::uint32_t>(slot), id, Outcome::transport_error);
    }
    retry_later(c);
  }

  int index_of(const Connection& c) const {
    for (std::size_t i = 0; i < connections_.size(); ++i)
      if (connections_[i].get() == &c) return static_cast<int>(i);
    return -1;
  }

  void finish_start(std::string error) {
    if (!start_done_) return;
    start_timer_.cancel();
    auto done = std::move(start_done_);
    start_done_ = nullptr;
    done(std::move(error));
  }

  asio::io_context& io_;
  CompletionSink& sink_;
  const Nanos deadline_ns_;
  const std::shared_ptr<const TlsMaterial> tls_;  // the load's client identity: wss://; null: ws://
  asio::steady_timer start_timer_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<InFlight> by_slot_;  // what each slot is waiting for, and on which connection
  v1::QueryRequest request_;       // reused: serialized right away
  v1::QueryReply reply_;
  std::function<void(std::string)> start_done_;
  std::size_t waiting_ = 0;
  std::size_t next_ = 0;
  bool stopped_ = false;
};

class WsPathInstance final : public PathInstance {
 public:
  // The load's client identity (net/tls_policy.h, from [tls] or `agent --tls-*`) makes every
  // connection wss:// with mutual TLS, as it makes the gRPC paths' channels TLS.
  WsPathInstance(const Scenario& scenario, const PathSpec& spec, std::vector<std::string> targets)
      : scenario_(scenario), spec_(spec), targets_(std::move(targets)), tls_(net::client_tls()) {}
  std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, int thread_index) override {
    return std::make_unique<WsPathClient>(io, sink, scenario_, spec_, targets_, tls_, thread_index);
  }
  std::string endpoint() const override {
    std::string joined;
    for (auto& t : targets_) joined += (joined.empty() ? "" : ",") + net::ws_url(tls_ != nullptr, t, "/query");
    return joined;
  }

 private:
  const Scenario& scenario_;
  const PathSpec& spec_;
  std::vector<std::string> targets_;
  std::shared_ptr<const TlsMaterial> tls_;
};

}  // namespace

std::unique_ptr<PathInstance> create_websocket(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  std::vector<std::string> targets;
  if (spec.via == "balancer") {
    targets.push_back(endpoints.balancer_ws_address());
  } else {
    targets = endpoints.worker_ws_addresses();
  }
  return std::make_unique<WsPathInstance>(scenario, spec, std::move(targets));
}

}  // namespace pathbench
