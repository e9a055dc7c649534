#include "paths/broker_grpc_stream.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <deque>
#include <thread>

#include "messagequeue.grpc.pb.h"
#include "paths/broker_client_base.h"
#include "paths/endpoints.h"
#include "paths/grpc_common.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

class GrpcStreamBrokerClient;

class MessageStream final : public grpc::ClientBidiReactor<broker::v1::StreamMessage, broker::v1::StreamMessage> {
 public:
  MessageStream(GrpcStreamBrokerClient& client, asio::io_context& io) : client_(client), io_(io) {}
  void begin(broker::v1::MessageQueue::Stub& stub) {
    stub.async()->StreamMessages(&context_, this);
    StartRead(&read_);
    StartCall();
  }
  void cancel() { context_.TryCancel(); }
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  broker::v1::StreamMessage& write_buffer() noexcept { return write_; }
  void write() { StartWrite(&write_); }
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  GrpcStreamBrokerClient& client_;
  asio::io_context& io_;
  grpc::ClientContext context_;
  broker::v1::StreamMessage read_, write_;
  std::atomic<bool> finished_{false};
};

// One StreamMessages stream: each request's message goes out as one StreamMessage; the server
// answers each with the head of the queue (this thread's message, FIFO) or an error, in order,
// so an error answer belongs to the oldest unanswered request.
class GrpcStreamBrokerClient final : public BrokerClientBase {
 public:
  GrpcStreamBrokerClient(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings, const std::string& address, int thread_index)
      : BrokerClientBase(io, sink, std::move(settings)), address_(address), channel_(make_channel(address, thread_index)),
        stub_(broker::v1::MessageQueue::NewStub(channel_)) {}
  ~GrpcStreamBrokerClient() override {
    if (!stream_) return;
    stream_->cancel();
    while (!stream_->finished()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  void start(std::function<void(std::string)> done) override {
    if (auto error = wait_connected(*channel_, address_, s_.deadline_ns); !error.empty()) return done(error);
    stream_ = std::make_unique<MessageStream>(*this, io_);
    stream_->begin(*stub_);
    done("");
  }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query&) override {
    if (!open_ || stream_->finished()) return sink_.complete(slot, request_id, Outcome::unavailable);
    track(slot, request_id);
    unanswered_.push_back(wire_id(slot, request_id));
    pending_.push_back(make_broker_body(wire_id(slot, request_id), s_.message_bytes));
    if (!writing_) write_next();
  }

  void stop() override {
    stopped_ = true;
    if (stream_) stream_->cancel();
  }

  void on_reply(std::string payload, std::string error) {
    const std::uint64_t oldest = unanswered_.empty() ? 0 : unanswered_.front();
    if (!unanswered_.empty()) unanswered_.pop_front();
    if (error.empty()) return finish_body(payload);
    if (unanswered_.empty() && oldest == 0) return;
    if (error == "broker overflow") return finish(slot_of(oldest), id_of(oldest), Outcome::rejected);
    if (error == "queue empty") {
      // Its message is still queued: a plain "next" request (empty payload) fetches it.
      unanswered_.push_front(oldest);
      pending_.emplace_back();
      if (!writing_) write_next();
      return;
    }
    finish(slot_of(oldest), id_of(oldest), Outcome::server_error);
  }
  void on_write_done(bool ok) {
    writing_ = false;
    if (ok && open_) write_next();
  }
  void on_done(grpc::StatusCode code) {
    open_ = false;
    pending_.clear();
    unanswered_.clear();
    fail_all(code == grpc::StatusCode::UNAVAILABLE ? Outcome::unavailable : Outcome::transport_error);
  }

 private:
  void write_next() {
    if (pending_.empty() || stream_->finished()) return;
    auto& w = stream_->write_buffer();
    w.set_payload(std::move(pending_.front()));
    w.set_queue(s_.queue);
    pending_.pop_front();
    writing_ = true;
    stream_->write();
  }

  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<broker::v1::MessageQueue::Stub> stub_;
  std::unique_ptr<MessageStream> stream_;
  std::deque<std::string> pending_;         // bodies waiting for the one write in flight
  std::deque<std::uint64_t> unanswered_;    // wire ids sent (or queued), oldest first
  bool writing_ = false, open_ = true;
};

void MessageStream::OnReadDone(bool ok) {
  if (!ok) return;
  asio::post(io_, [c = &client_, p = std::move(*read_.mutable_payload()), e = std::move(*read_.mutable_error())]() mutable {
    c->on_reply(std::move(p), std::move(e));
  });
  StartRead(&read_);
}
void MessageStream::OnWriteDone(bool ok) {
  asio::post(io_, [c = &client_, ok] { c->on_write_done(ok); });
}
void MessageStream::OnDone(const grpc::Status& status) {
  asio::post(io_, [c = &client_, code = status.error_code()] { c->on_done(code); });
  finished_.store(true, std::memory_order_release);
}

std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings,
                                        const std::string& address, int thread_index) {
  return std::make_unique<GrpcStreamBrokerClient>(io, sink, std::move(settings), address, thread_index);
}

}  // namespace

std::unique_ptr<PathInstance> create_broker_grpc_stream(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  auto& server = endpoints.broker_server();
  return std::make_unique<BrokerFrontInstance>(scenario, spec, server.grpc_address(), "grpc://" + server.grpc_address(), &make_client,
                                               server.tls());
}

}  // namespace pathbench
