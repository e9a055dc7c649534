#include "paths/broker_websocket.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <vector>

#include "net/websocket.h"
#include "paths/broker_client_base.h"
#include "paths/endpoints.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

// `producers` /ws/publish connections carry the messages, in turn ("ok" answers in order on
// each); each "ok" sends one "next" on one of the `consumers` /ws/consume connections, in turn,
// whose binary answers complete requests ("error: queue empty": that connection asks again soon).
class WsBrokerClient final : public BrokerClientBase {
 public:
  WsBrokerClient(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings, std::string address)
      : BrokerClientBase(io, sink, std::move(settings)), address_(std::move(address)) {
    publish_.resize(static_cast<std::size_t>(std::max(s_.producers, 1)));
    for (int i = 0; i < std::max(s_.consumers, 1); ++i) consume_.push_back(std::make_unique<Consumer>(io));
  }

  void start(std::function<void(std::string)> done) override {
    begin_start(std::move(done), fmt::format("connecting to ws://{}/ws/*", address_));
    for (std::size_t i = 0; i < publish_.size(); ++i) connect(true, i);
    for (std::size_t i = 0; i < consume_.size(); ++i) connect(false, i);
  }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query&) override {
    Publisher& p = publish_[next_publish_];
    next_publish_ = (next_publish_ + 1) % publish_.size();
    if (!p.channel || !p.channel->open() || open_consumers_ == 0) return sink_.complete(slot, request_id, Outcome::unavailable);
    track(slot, request_id);
    p.unconfirmed.push_back(wire_id(slot, request_id));
    p.channel->send(make_broker_body(wire_id(slot, request_id), s_.message_bytes), true);
  }

  void stop() override {
    stopped_ = true;
    start_timer_.cancel();
    for (auto& p : publish_)
      if (p.channel) p.channel->close(net::CloseCode::normal, "run over");
    for (auto& c : consume_) {
      c->poll_timer.cancel();
      if (c->channel) c->channel->close(net::CloseCode::normal, "run over");
    }
  }

 private:
  struct Publisher {
    std::shared_ptr<net::WsChannel> channel;
    std::deque<std::uint64_t> unconfirmed;  // published, awaiting "ok"/"error: ..." in order
  };
  struct Consumer {
    explicit Consumer(asio::io_context& io) : poll_timer(io) {}
    std::shared_ptr<net::WsChannel> channel;
    asio::steady_timer poll_timer;
    int reasks = 0;
    bool polling = false;
  };

  void connect(bool is_publish, std::size_t index) {
    net::WsLimits limits;
    limits.handshake_timeout_ns = std::min<Nanos>(s_.deadline_ns, 5 * kNanosPerSecond);
    net::WsChannel::Callbacks callbacks{
        [this, is_publish, index](const std::shared_ptr<net::WsChannel>&, std::string_view payload, bool binary) {
          is_publish ? on_confirm(index, payload) : on_message(index, payload, binary);
        },
        [this](const std::shared_ptr<net::WsChannel>&, const std::string& reason) { on_closed(reason); }};
    net::ws_connect(io_, address_, std::string(is_publish ? "/ws/publish" : "/ws/consume") + "?queue=" + s_.queue, limits,
                    s_.tls.get(), std::move(callbacks), [this, is_publish, index](std::shared_ptr<net::WsChannel> channel, std::string error) {
                      if (!channel) return finish_start(std::move(error));
                      if (stopped_) return channel->close(net::CloseCode::normal, "run over");
                      (is_publish ? publish_[index].channel : consume_[index]->channel) = std::move(channel);
                      if (!is_publish) ++open_consumers_;
                      if (++connected_ == publish_.size() + consume_.size()) finish_start("");
                    });
  }

  void on_confirm(std::size_t index, std::string_view answer) {
    Publisher& p = publish_[index];
    if (p.unconfirmed.empty()) return;
    const std::uint64_t wire = p.unconfirmed.front();
    p.unconfirmed.pop_front();
    if (answer == "ok") {
      for (std::size_t tried = 0; tried < consume_.size(); ++tried) {
        Consumer& c = *consume_[next_consume_];
        next_consume_ = (next_consume_ + 1) % consume_.size();
        if (c.channel && c.channel->open()) return c.channel->send("next", false);
      }
      return;  // every consume connection is gone: on_closed has failed what was out
    }
    finish(slot_of(wire), id_of(wire), answer == "error: broker overflow" ? Outcome::rejected : Outcome::server_error);
  }

  void on_message(std::size_t index, std::string_view payload, bool binary) {
    if (binary) return finish_body(payload);
    // "error: queue empty": ask again after a short pause (one pending re-ask per empty answer).
    Consumer& c = *consume_[index];
    ++c.reasks;
    if (c.polling) return;
    c.polling = true;
    c.poll_timer.expires_after(std::chrono::nanoseconds(kBrokerPollBackoffNs));
    c.poll_timer.async_wait([this, index](boost::system::error_code ec) {
      Consumer& c = *consume_[index];
      c.polling = false;
      if (ec || !c.channel || !c.channel->open()) return;
      for (; c.reasks > 0; --c.reasks) c.channel->send("next", false);
    });
  }

  void on_closed(const std::string& reason) {
    finish_start("WebSocket closed: " + reason);
    for (auto& p : publish_) p.unconfirmed.clear();
    open_consumers_ = 0;
    for (auto& c : consume_)
      if (c->channel && c->channel->open()) ++open_consumers_;
    fail_all(Outcome::transport_error);
  }

  std::string address_;
  std::vector<Publisher> publish_;                  // `producers`, used in turn
  std::vector<std::unique_ptr<Consumer>> consume_;  // `consumers`, asked in turn
  std::size_t next_publish_ = 0, next_consume_ = 0, connected_ = 0;
  int open_consumers_ = 0;
};

std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings,
                                        const std::string& address, int) {
  return std::make_unique<WsBrokerClient>(io, sink, std::move(settings), address);
}

}  // namespace

std::unique_ptr<PathInstance> create_broker_websocket(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  auto& server = endpoints.broker_server();
  return std::make_unique<BrokerFrontInstance>(scenario, spec, server.http_address(),
                                               net::ws_url(server.tls(), server.http_address(), "/ws/publish"), &make_client,
                                               server.tls());
}

}  // namespace pathbench
