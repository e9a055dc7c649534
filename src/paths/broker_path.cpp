#include "paths/broker_path.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <deque>
#include <optional>
#include <mutex>
#include <thread>

#include "broker/native_client.h"
#include "broker/protocol.h"
#include "messagequeue.grpc.pb.h"
#include "net/websocket.h"
#include "paths/grpc_common.h"
#include "paths/endpoints.h"

namespace pathbench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace proto = broker::protocol;
using asio::ip::tcp;

namespace {

// A message body: the wire id as 20 decimal digits, then 'x' up to message_bytes — plain ASCII,
// so it travels unchanged as a protobuf bytes field, a WebSocket frame and a JSON string.
constexpr std::size_t kIdDigits = 20;
// Empty-queue polling (grpc_unary, websocket, http): a short pause before asking again.
constexpr Nanos kPollBackoffNs = 200 * kNanosPerMicro;

std::string make_body(std::uint64_t wire, std::size_t message_bytes) {
  std::string body = fmt::format("{:020}", wire);
  if (body.size() < message_bytes) body.append(message_bytes - body.size(), 'x');
  return body;
}

bool parse_body(std::string_view body, std::uint64_t& wire) {
  if (body.size() < kIdDigits) return false;
  auto r = std::from_chars(body.data(), body.data() + kIdDigits, wire);
  return r.ec == std::errc{} && r.ptr == body.data() + kIdDigits;
}

struct Settings {
  std::string queue;  // this thread's queue (or subject): "bench-<label>-<thread>"
  std::size_t message_bytes = 64;
  Nanos deadline_ns = 0;
};

// What every front's client shares: which requests are out (to fail them when a connection
// breaks), and completion by the id carried in a body. Client thread only.
class BrokerClientBase : public PathClient {
 protected:
  BrokerClientBase(asio::io_context& io, CompletionSink& sink, Settings settings)
      : io_(io), sink_(sink), s_(std::move(settings)), start_timer_(io) {}

  void track(std::uint32_t slot, std::uint64_t id) {
    if (slot >= out_.size()) out_.resize(slot + 1, 0);
    out_[slot] = id + 1;
  }
  void finish(std::uint32_t slot, std::uint64_t id, Outcome outcome) {
    if (slot < out_.size() && out_[slot] == id + 1) out_[slot] = 0;
    sink_.complete(slot, id, outcome);
  }
  void finish_body(std::string_view body) {
    std::uint64_t wire = 0;
    if (!parse_body(body, wire)) return;  // not ours: cannot be matched to a request
    finish(slot_of(wire), id_of(wire), Outcome::ok);
  }
  // Every request still out fails with `outcome` (a broken connection).
  void fail_all(Outcome outcome) {
    for (std::size_t slot = 0; slot < out_.size(); ++slot) {
      if (out_[slot] == 0) continue;
      const std::uint64_t id = out_[slot] - 1;
      out_[slot] = 0;
      sink_.complete(static_cast<std::uint32_t>(slot), id, outcome);
    }
  }
  void begin_start(std::function<void(std::string)> done, std::string what) {
    start_done_ = std::move(done);
    start_timer_.expires_after(std::chrono::nanoseconds(s_.deadline_ns));
    start_timer_.async_wait([this, what = std::move(what)](boost::system::error_code ec) {
      if (!ec) finish_start(fmt::format("{} timed out", what));
    });
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
  Settings s_;
  asio::steady_timer start_timer_;
  std::function<void(std::string)> start_done_;
  std::vector<std::uint64_t> out_;  // slot -> request id + 1 while out, 0 otherwise
  bool stopped_ = false;
};

// ---------------------------------------------------------------- native
// One connection: declare the queue, consume it with credit (prefetch) and acks, publish with
// confirms. A confirm other than ok refuses that request; a delivery completes its request.
class NativeBrokerClient final : public BrokerClientBase {
 public:
  NativeBrokerClient(asio::io_context& io, CompletionSink& sink, Settings settings, std::string address)
      : BrokerClientBase(io, sink, std::move(settings)), address_(std::move(address)),
        client_(std::make_shared<broker::NativeClient>(io)) {}
  ~NativeBrokerClient() override { client_->close(); }

  void start(std::function<void(std::string)> done) override {
    begin_start(std::move(done), "connecting to the broker at tcp://" + address_);
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
    body_ = make_body(wire_id(slot, request_id), s_.message_bytes);
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

// ---------------------------------------------------------------- grpc_unary
// Produce per request; each accepted Produce asks for one Consume (up to kMaxConsumes in flight);
// "queue empty" puts the ask back and polls again after kPollBackoffNs.
class GrpcUnaryBrokerClient final : public BrokerClientBase {
 public:
  GrpcUnaryBrokerClient(asio::io_context& io, CompletionSink& sink, Settings settings, const std::string& address, int thread_index)
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
    call->produce.set_payload(make_body(wire_id(slot, request_id), s_.message_bytes));
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
    poll_timer_.expires_after(std::chrono::nanoseconds(kPollBackoffNs));
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

// ---------------------------------------------------------------- grpc_stream
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
  GrpcStreamBrokerClient(asio::io_context& io, CompletionSink& sink, Settings settings, const std::string& address, int thread_index)
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
    pending_.push_back(make_body(wire_id(slot, request_id), s_.message_bytes));
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

// ---------------------------------------------------------------- websocket
// /ws/publish carries the messages ("ok" answers in order); each "ok" sends one "next" on
// /ws/consume, whose binary answers complete requests ("error: queue empty": ask again soon).
class WsBrokerClient final : public BrokerClientBase {
 public:
  WsBrokerClient(asio::io_context& io, CompletionSink& sink, Settings settings, std::string address)
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
    publish_->send(make_body(wire_id(slot, request_id), s_.message_bytes), true);
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
    poll_timer_.expires_after(std::chrono::nanoseconds(kPollBackoffNs));
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

// ---------------------------------------------------------------- http
// A keep-alive HTTP/1.1 connection with one request in flight and a queue behind it.
class HttpLane {
 public:
  using Done = std::function<void(boost::system::error_code, unsigned status, std::string body)>;
  HttpLane(asio::io_context& io, std::string host_port) : socket_(io), host_port_(std::move(host_port)) {}

  void connect(std::function<void(boost::system::error_code)> done) {
    const auto colon = host_port_.rfind(':');
    boost::system::error_code ec;
    tcp::endpoint ep(asio::ip::make_address(host_port_.substr(0, colon), ec),
                     static_cast<unsigned short>(std::atoi(host_port_.c_str() + colon + 1)));
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
  HttpBrokerClient(asio::io_context& io, CompletionSink& sink, Settings settings, std::string address)
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
    publish_.post("/api/publish", fmt::format(R"({{"subject":"{}","data":"{}"}})", s_.queue, make_body(wire, s_.message_bytes)),
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
    fetch_.post("/api/subscribe", fmt::format(R"({{"subject":"{}"}})", s_.queue),
                [this](boost::system::error_code ec, unsigned status, std::string body) {
                  const auto at = body.find("\"id\":\"");
                  if (ec || status != 200 || at == std::string::npos)
                    return finish_start(fmt::format("subscribe at http://{}/api/subscribe failed: {} {}", address_, status, body));
                  const auto end = body.find('"', at + 6);
                  id_ = body.substr(at + 6, end - at - 6);
                  finish_start("");
                });
  }

  void fetch() {
    if (stopped_ || waiting_ == 0) return;
    fetching_ = true;
    fetch_.post("/api/fetch", fmt::format(R"({{"subject":"{}","id":"{}"}})", s_.queue, id_),
                [this](boost::system::error_code ec, unsigned status, std::string body) {
                  fetching_ = false;
                  if (ec || status != 200) return fail_all(ec ? Outcome::transport_error : Outcome::server_error);
                  // The bodies are ours (digits and 'x', no escapes): each "..." in data is one.
                  std::size_t got = 0;
                  auto at = body.find("\"data\":[");
                  if (at != std::string::npos) {
                    std::string_view rest(body);
                    rest.remove_prefix(at + 8);
                    while (!rest.empty() && rest.front() == '"') {
                      auto end = rest.find('"', 1);
                      if (end == std::string_view::npos) break;
                      finish_body(rest.substr(1, end - 1));
                      ++got;
                      rest.remove_prefix(end + 1);
                      if (!rest.empty() && rest.front() == ',') rest.remove_prefix(1);
                    }
                  }
                  waiting_ -= std::min(waiting_, got);
                  if (got > 0) return fetch();
                  // Nothing yet: poll again after a short pause; the loop stays "fetching" meanwhile
                  // so a publish's answer does not start a second one.
                  fetching_ = true;
                  poll_timer_.expires_after(std::chrono::nanoseconds(kPollBackoffNs));
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

// ---------------------------------------------------------------- instance

class BrokerPathInstance final : public PathInstance {
 public:
  BrokerPathInstance(const Scenario& scenario, const PathSpec& spec, broker::BrokerServer& server)
      : scenario_(scenario), spec_(spec), native_(server.address()), grpc_(server.grpc_address()), http_(server.http_address()) {}

  std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, int thread_index) override {
    Settings s{fmt::format("bench-{}-{}", spec_.label.empty() ? spec_.kind : spec_.label, thread_index),
               static_cast<std::size_t>(std::max(spec_.message_bytes, 0)), scenario_.load.deadline_ns};
    const std::string& via = spec_.via;
    if (via == "grpc_unary") return std::make_unique<GrpcUnaryBrokerClient>(io, sink, std::move(s), grpc_, thread_index);
    if (via == "grpc_stream") return std::make_unique<GrpcStreamBrokerClient>(io, sink, std::move(s), grpc_, thread_index);
    if (via == "websocket") return std::make_unique<WsBrokerClient>(io, sink, std::move(s), http_);
    if (via == "http") return std::make_unique<HttpBrokerClient>(io, sink, std::move(s), http_);
    return std::make_unique<NativeBrokerClient>(io, sink, std::move(s), native_);
  }

  std::string endpoint() const override {
    const std::string& via = spec_.via;
    if (via == "grpc_unary" || via == "grpc_stream") return "grpc://" + grpc_;
    if (via == "websocket") return "ws://" + http_ + "/ws/publish";
    if (via == "http") return "http://" + http_ + "/api";
    return "tcp://" + native_;
  }

 private:
  const Scenario& scenario_;
  const PathSpec& spec_;
  std::string native_, grpc_, http_;
};

}  // namespace

std::unique_ptr<PathInstance> create_broker_path(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  return std::make_unique<BrokerPathInstance>(scenario, spec, endpoints.broker_server());
}

}  // namespace pathbench
