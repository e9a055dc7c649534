#include "paths/broker_websocket.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>

#include "net/websocket.h"
#include "paths/broker_client_base.h"
#include "paths/endpoints.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

// /ws/publish carries the messages ("ok" answers in order); each "ok" sends one "next" on
// /ws/consume, whose binary answers complete requests ("error: queue empty": ask again soon).
class WsBrokerClient final : public BrokerClientBase {
 public:
  WsBrokerClient(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings, std::string address)
      : BrokerClientBase(io, sink, std::move(settings)), address_(std::move(address)), poll_timer_(io) {}

  void start(std::function<void(std::string)> done) override {
    begin_start(std::move(done), fmt::format("connecting to ws://{}/ws/*", address_));
    connect("/ws/publish", publish_);
    connect("/ws/consume", consume_);
  }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query&) override {
    if (!publish_ || !publish_->open() || !consume_ || !consume_->open())
      return sink_.complete(slot, request_id, Outcome::unavailable);
    track(slot, request_id);
    unconfirmed_.push_back(wire_id(slot, request_id));
    publish_->send(make_broker_body(wire_id(slot, request_id), s_.message_bytes), true);
  }

  void stop() override {
    stopped_ = true;
    start_timer_.cancel();
    poll_timer_.cancel();
    if (publish_) publish_->close(net::CloseCode::normal, "run over");
    if (consume_) consume_->close(net::CloseCode::normal, "run over");
  }

 private:
  void connect(const std::string& path, std::shared_ptr<net::WsChannel>& slot) {
    net::WsLimits limits;
    limits.handshake_timeout_ns = std::min<Nanos>(s_.deadline_ns, 5 * kNanosPerSecond);
    const bool is_publish = &slot == &publish_;
    net::WsChannel::Callbacks callbacks{
        [this, is_publish](const std::shared_ptr<net::WsChannel>&, std::string_view payload, bool binary) {
          is_publish ? on_confirm(payload) : on_message(payload, binary);
        },
        [this](const std::shared_ptr<net::WsChannel>&, const std::string& reason) { on_closed(reason); }};
    net::ws_connect(io_, address_, path + "?queue=" + s_.queue, limits, std::move(callbacks),
                    [this, &slot](std::shared_ptr<net::WsChannel> channel, std::string error) {
                      if (!channel) return finish_start(std::move(error));
                      if (stopped_) return channel->close(net::CloseCode::normal, "run over");
                      slot = std::move(channel);
                      if (publish_ && consume_) finish_start("");
                    });
  }

  void on_confirm(std::string_view answer) {
    if (unconfirmed_.empty()) return;
    const std::uint64_t wire = unconfirmed_.front();
    unconfirmed_.pop_front();
    if (answer == "ok") {
      consume_->send("next", false);
      return;
    }
    finish(slot_of(wire), id_of(wire), answer == "error: broker overflow" ? Outcome::rejected : Outcome::server_error);
  }

  void on_message(std::string_view payload, bool binary) {
    if (binary) return finish_body(payload);
    // "error: queue empty": ask again after a short pause (one pending re-ask per empty answer).
    ++reasks_;
    if (polling_) return;
    polling_ = true;
    poll_timer_.expires_after(std::chrono::nanoseconds(kBrokerPollBackoffNs));
    poll_timer_.async_wait([this](boost::system::error_code ec) {
      polling_ = false;
      if (ec || !consume_ || !consume_->open()) return;
      for (; reasks_ > 0; --reasks_) consume_->send("next", false);
    });
  }

  void on_closed(const std::string& reason) {
    finish_start("WebSocket closed: " + reason);
    unconfirmed_.clear();
    fail_all(Outcome::transport_error);
  }

  std::string address_;
  std::shared_ptr<net::WsChannel> publish_, consume_;
  std::deque<std::uint64_t> unconfirmed_;  // published, awaiting "ok"/"error: ..." in order
  asio::steady_timer poll_timer_;
  int reasks_ = 0;
  bool polling_ = false;
};

std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings,
                                        const std::string& address, int) {
  return std::make_unique<WsBrokerClient>(io, sink, std::move(settings), address);
}

}  // namespace

std::unique_ptr<PathInstance> create_broker_websocket(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  auto& server = endpoints.broker_server();
  return std::make_unique<BrokerFrontInstance>(scenario, spec, server.http_address(), "ws://" + server.http_address() + "/ws/publish", &make_client);
}

}  // namespace pathbench
