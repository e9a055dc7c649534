#include "paths/broker_native.h"

#include <fmt/format.h>

#include <deque>
#include <memory>

#include "broker/native_client.h"
#include "broker/protocol.h"
#include "paths/broker_client_base.h"
#include "paths/endpoints.h"

namespace pathbench {

namespace asio = boost::asio;
namespace proto = broker::protocol;

namespace {

// One connection: declare the queue, consume it with credit (prefetch) and acks, publish with
// confirms. A confirm other than ok refuses that request; a delivery completes its request.
class NativeBrokerClient final : public BrokerClientBase {
 public:
  NativeBrokerClient(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings, std::string address)
      : BrokerClientBase(io, sink, std::move(settings)), address_(std::move(address)),
        client_(std::make_shared<broker::NativeClient>(
            io, proto::kDefaultMaxFrameBytes, broker::native_client_tls(s_.tls.get(), "broker client tcps://" + address_))) {}
  ~NativeBrokerClient() override { client_->close(); }

  void start(std::function<void(std::string)> done) override {
    begin_start(std::move(done), fmt::format("connecting to the broker at {}://{}", client_->tls() ? "tcps" : "tcp", address_));
    client_->connect(address_, s_.deadline_ns, [this](const proto::Frame& f) { on_frame(f); },
                     [this](const std::string& reason) { on_closed(reason); },
                     [this](const std::string& error) {
                       if (!error.empty()) return finish_start(error);
                       proto::Frame declare{.type = proto::FrameType::declare_queue, .seq = 1, .name = s_.queue};
                       client_->send(declare);
                       proto::Frame consume{.type = proto::FrameType::consume, .seq = 2, .count = kPrefetch, .name = s_.queue};
                       client_->send(consume);
                     });
  }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query&) override {
    if (!client_->is_open()) return sink_.complete(slot, request_id, Outcome::unavailable);
    track(slot, request_id);
    const std::uint32_t seq = next_seq_++;
    body_ = make_broker_body(wire_id(slot, request_id), s_.message_bytes);
    proto::Frame publish{.type = proto::FrameType::publish, .seq = seq, .flags = proto::kFlagConfirm, .name = s_.queue, .body = body_};
    unconfirmed_.push_back({seq, wire_id(slot, request_id)});
    client_->send(publish);
  }

  void stop() override {
    stopped_ = true;
    start_timer_.cancel();
    client_->close();
  }

 private:
  static constexpr std::uint32_t kPrefetch = 4096;

  void on_frame(const proto::Frame& f) {
    switch (f.type) {
      case proto::FrameType::deliver: {
        proto::Frame ack{.type = proto::FrameType::ack, .consumer_tag = f.consumer_tag, .delivery_tag = f.delivery_tag};
        client_->send(ack);
        return finish_body(f.body);
      }
      case proto::FrameType::confirm: {
        // Confirms come in publish order; find this one's request.
        while (!unconfirmed_.empty() && unconfirmed_.front().first != f.seq) unconfirmed_.pop_front();
        if (unconfirmed_.empty()) return;
        const std::uint64_t wire = unconfirmed_.front().second;
        unconfirmed_.pop_front();
        if (f.status != broker::Status::ok)
          finish(slot_of(wire), id_of(wire), f.status == broker::Status::overflow ? Outcome::rejected : Outcome::server_error);
        return;
      }
      case proto::FrameType::consume_ok:
        return finish_start("");
      case proto::FrameType::error:
        if (f.seq == 1 || f.seq == 2) return finish_start(fmt::format("broker refused {}: {}", f.seq == 1 ? "declare" : "consume", f.body));
        return;
      default:
        return;
    }
  }

  void on_closed(const std::string& reason) {
    finish_start("broker connection closed: " + reason);
    unconfirmed_.clear();
    fail_all(Outcome::transport_error);
  }

  std::string address_;
  std::shared_ptr<broker::NativeClient> client_;
  std::deque<std::pair<std::uint32_t, std::uint64_t>> unconfirmed_;  // (seq, wire id) in publish order
  std::uint32_t next_seq_ = 3;
  std::string body_;
};

std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings,
                                        const std::string& address, int) {
  return std::make_unique<NativeBrokerClient>(io, sink, std::move(settings), address);
}

}  // namespace

std::unique_ptr<PathInstance> create_broker_native(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  auto& server = endpoints.broker_server();
  return std::make_unique<BrokerFrontInstance>(scenario, spec, server.address(), server.url(), &make_client, server.tls());
}

}  // namespace pathbench
