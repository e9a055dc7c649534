#include "paths/broker_grpc_unary.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <mutex>
#include <thread>

#include "messagequeue.grpc.pb.h"
#include "paths/broker_client_base.h"
#include "paths/endpoints.h"
#include "paths/grpc_common.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

// Produce per request; each accepted Produce asks for one Consume (up to kMaxConsumes in flight);
// "queue empty" puts the ask back and polls again after kBrokerPollBackoffNs.
class GrpcUnaryBrokerClient final : public BrokerClientBase {
 public:
  GrpcUnaryBrokerClient(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings, const std::string& address, int thread_index)
      : BrokerClientBase(io, sink, std::move(settings)), address_(address), channel_(make_channel(address, thread_index)),
        stub_(broker::v1::MessageQueue::NewStub(channel_)), poll_timer_(io) {}
  ~GrpcUnaryBrokerClient() override {
    while (outstanding_.load(std::memory_order_acquire) > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  void start(std::function<void(std::string)> done) override { done(wait_connected(*channel_, address_, s_.deadline_ns)); }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query&) override {
    track(slot, request_id);
    auto call = std::make_shared<Call>();
    call->slot = slot;
    call->id = request_id;
    call->produce.set_payload(make_broker_body(wire_id(slot, request_id), s_.message_bytes));
    call->produce.set_queue(s_.queue);
    begin(call);
    stub_->async()->Produce(&call->context, &call->produce, &call->produced, [this, call](grpc::Status status) {
      call->status = std::move(status);
      asio::post(io_, [this, call] { on_produced(*call); });
      end(call);
    });
  }

  void stop() override {
    stopped_ = true;
    poll_timer_.cancel();
    std::lock_guard lock(calls_mutex_);
    for (auto& c : calls_) c->context.TryCancel();
  }

 private:
  static constexpr int kMaxConsumes = 16;
  struct Call {
    grpc::ClientContext context;
    broker::v1::ProduceRequest produce;
    broker::v1::ProduceResponse produced;
    broker::v1::ConsumeRequest consume;
    broker::v1::ConsumeResponse consumed;
    grpc::Status status;
    std::uint32_t slot = 0;
    std::uint64_t id = 0;
  };
  // Calls live in calls_ until gRPC is done with them (stop() can cancel them).
  void begin(const std::shared_ptr<Call>& call) {
    outstanding_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(calls_mutex_);
    calls_.push_back(call);
  }
  void end(const std::shared_ptr<Call>& call) {
    {
      std::lock_guard lock(calls_mutex_);
      std::erase(calls_, call);
    }
    outstanding_.fetch_sub(1, std::memory_order_release);
  }

  void on_produced(Call& call) {
    if (!call.status.ok()) return finish(call.slot, call.id, outcome_from_status(call.status.error_code()));
    if (!call.produced.success())
      return finish(call.slot, call.id, call.produced.error() == "broker overflow" ? Outcome::rejected : Outcome::server_error);
    ++wanted_;
    pump();
  }

  void pump() {
    while (!stopped_ && wanted_ > 0 && consumes_ < kMaxConsumes) {
      --wanted_;
      ++consumes_;
      auto call = std::make_shared<Call>();
      call->consume.set_queue(s_.queue);
      begin(call);
      stub_->async()->Consume(&call->context, &call->consume, &call->consumed, [this, call](grpc::Status status) {
        call->status = std::move(status);
        asio::post(io_, [this, call] { on_consumed(*call); });
        end(call);
      });
    }
  }

  void on_consumed(Call& call) {
    --consumes_;
    if (call.status.ok() && call.consumed.error().empty()) {
      finish_body(call.consumed.payload());
      return pump();
    }
    if (!call.status.ok()) return fail_all(outcome_from_status(call.status.error_code()));
    // "queue empty": the message is not there yet (another Consume took the head); ask again soon.
    ++wanted_;
    if (polling_) return;
    polling_ = true;
    poll_timer_.expires_after(std::chrono::nanoseconds(kBrokerPollBackoffNs));
    poll_timer_.async_wait([this](boost::system::error_code ec) {
      polling_ = false;
      if (!ec) pump();
    });
  }

  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<broker::v1::MessageQueue::Stub> stub_;
  asio::steady_timer poll_timer_;
  std::mutex calls_mutex_;  // gRPC threads erase finished calls; stop() cancels from the client thread
  std::vector<std::shared_ptr<Call>> calls_;
  std::atomic<int> outstanding_{0};
  int wanted_ = 0, consumes_ = 0;
  bool polling_ = false;
};

std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings,
                                        const std::string& address, int thread_index) {
  return std::make_unique<GrpcUnaryBrokerClient>(io, sink, std::move(settings), address, thread_index);
}

}  // namespace

std::unique_ptr<PathInstance> create_broker_grpc_unary(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  auto& server = endpoints.broker_server();
  return std::make_unique<BrokerFrontInstance>(scenario, spec, server.grpc_address(), "grpc://" + server.grpc_address(), &make_client,
                                               server.tls());
}

}  // namespace pathbench
