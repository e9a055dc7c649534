// The queue path over pathbench's own broker, speaking the native protocol
// (docs/broker-protocol.md) through broker::NativeClient.
//
// Requester: one connection on the load generator's io_context. Start pipelines three frames
// (declare the request queue, declare an exclusive reply queue, consume it with auto-ack) and
// waits for their answers. Each request is a publish with confirm: the confirm only matters when
// it refuses (overflow -> rejected, no queue -> server_error), the reply is matched by
// correlation id. Confirms come back in publish order, so a FIFO of (seq, correlation id) pairs
// maps them without a lookup table.
//
// Responder: `threads` threads, each with its own io_context and connection, consuming with
// prefetch and manual acks; the handler runs on that thread, then the reply (publish with
// confirm) and the ack are flushed together. A thread that loses the broker after starting
// reconnects (100 ms doubling to 1 s) until stop(); what it held is redelivered by the broker.
//
// A request queue that already exists with other settings (another max_pending: a `serve worker`
// started with its own --max-pending, or an earlier run's requester) is used as it is: the broker
// answers such a declare with precondition_failed (its semantics for the native protocol), and
// both sides here take that answer as "the queue is there" and say once, on stderr, that the bound
// in force is the one it was first declared with. A queue that cannot be consumed (exclusive to
// another connection) still fails at the consume that follows.
#include <fmt/format.h>
#include <pthread.h>

#include <atomic>
#include <boost/asio.hpp>
#include <deque>
#include <future>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "broker/native_client.h"
#include "mq/backends.h"
#include "mq/reply_book.h"

namespace pathbench::mq {

namespace asio = boost::asio;
using broker::NativeClient;
using broker::Status;
using broker::protocol::Frame;
using broker::protocol::FrameType;
namespace protocol = broker::protocol;

namespace {

// A reply queue name no other requester (in this or another process) will pick.
std::string reply_queue_name(int index) {
  std::random_device rd;
  const std::uint64_t nonce = (std::uint64_t{rd()} << 32) ^ rd();
  return fmt::format("pathbench.reply.{}.{:016x}", index, nonce);
}

// A declare of the request queue answered precondition_failed: the queue exists with other
// settings. Say so (once per connection set-up, never on the request path) and carry on.
void note_existing_queue(const Endpoint& endpoint, std::string_view who) {
  fmt::print(stderr,
             "{}: request queue {} already exists on the embedded broker at {} with other settings; using it as "
             "it is (its max_pending is the one it was first declared with, not {})\n",
             who, endpoint.request_queue, endpoint.url, endpoint.max_pending);
}

bool existing_queue(const Frame& f) { return f.type == FrameType::error && f.status == Status::precondition_failed; }

// The protocol carries names of 1..255 bytes: refuse others before anything is sent.
std::string check_queue_name(const std::string& name) {
  if (name.empty() || name.size() > protocol::kMaxNameBytes)
    return fmt::format("request queue name must be 1..{} bytes, found {} bytes", protocol::kMaxNameBytes, name.size());
  return "";
}

class EmbeddedRequester final : public Requester {
 public:
  EmbeddedRequester(const Endpoint& endpoint, asio::io_context& io, OnReply on_reply, int index)
      : endpoint_(endpoint), io_(io), book_(std::make_shared<detail::ReplyBook>(io, std::move(on_reply))),
        reply_queue_(reply_queue_name(index)), start_timer_(io) {}
  ~EmbeddedRequester() override { stop(); }

  void start(std::function<void(std::string)> done) override {
    start_done_ = std::move(done);
    state_ = State::starting;
    if (std::string bad = check_queue_name(endpoint_.request_queue); !bad.empty()) {
      return asio::post(io_, [this, alive = std::weak_ptr<int>(alive_), bad] {
        if (!alive.expired()) fail_start(bad);
      });
    }
    broker::NativeClientTls tls;  // tcps:// or [tls.broker]: mutual TLS to the broker
    try {
      tls = broker::native_client_tls(endpoint_.url, endpoint_.tls);
    } catch (const std::exception& e) {
      return asio::post(io_, [this, alive = std::weak_ptr<int>(alive_), error = std::string(e.what())] {
        if (!alive.expired()) fail_start(error);
      });
    }
    client_ = std::make_shared<NativeClient>(io_, protocol::kDefaultMaxFrameBytes, std::move(tls));
    start_timer_.expires_after(std::chrono::nanoseconds(endpoint_.timeout_ns));
    start_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
      if (ec || alive.expired() || state_ != State::starting) return;
      fail_start(fmt::format("embedded broker at {}: no answer within {} ms", endpoint_.url,
                             endpoint_.timeout_ns / kNanosPerMilli));
    });
    client_->connect(
        endpoint_.url, endpoint_.timeout_ns, [this](const Frame& f) { on_frame(f); },
        [this](const std::string& reason) { on_closed(reason); },
        [this](const std::string& error) {
          if (!error.empty()) return fail_start(fmt::format("embedded broker at {}: {}", endpoint_.url, error));
          send_setup();
        });
  }

  void request(std::uint64_t correlation_id, std::string_view body) override {
    if (state_ != State::ready) return answer_later(correlation_id, Outcome::unavailable);
    Frame f{.type = FrameType::publish, .seq = ++seq_, .flags = protocol::kFlagConfirm,
            .correlation_id = correlation_id, .name = endpoint_.request_queue,
            .reply_to = endpoint_.one_way ? std::string_view{} : std::string_view{reply_queue_}, .body = body};
    if (protocol::encoded_size(f) - protocol::kLengthPrefixBytes > client_->max_frame_bytes())
      return answer_later(correlation_id, Outcome::invalid_argument);
    book_->issue(correlation_id);
    confirms_.push_back({f.seq, correlation_id});
    client_->send(f);
  }

  void stop() override {
    if (state_ == State::stopped) return;
    state_ = State::stopped;
    start_timer_.cancel();
    if (client_) client_->close();
    book_->stop();
    confirms_.clear();
  }

  std::uint64_t duplicates() const noexcept override { return book_->duplicates(); }

 private:
  enum class State : std::uint8_t { idle, starting, ready, broken, stopped };

  void send_setup() {
    setup_seqs_[0] = ++seq_;
    client_->send({.type = FrameType::declare_queue, .seq = setup_seqs_[0],
                   .count = static_cast<std::uint32_t>(endpoint_.max_pending), .name = endpoint_.request_queue});
    if (endpoint_.one_way) {  // no replies: ready once the queue is there
      setup_seqs_[2] = setup_seqs_[0];
      return;
    }
    setup_seqs_[1] = ++seq_;
    client_->send({.type = FrameType::declare_queue, .seq = setup_seqs_[1], .flags = protocol::kFlagExclusive,
                   .name = reply_queue_});
    setup_seqs_[2] = ++seq_;
    client_->send({.type = FrameType::consume, .seq = setup_seqs_[2], .flags = protocol::kFlagAutoAck,
                   .name = reply_queue_});
  }

  void on_frame(const Frame& f) {
    switch (f.type) {
      case FrameType::deliver: return on_reply_frame(f);
      case FrameType::confirm: return on_confirm(f);
      case FrameType::ok:
      case FrameType::consume_ok:
        if (state_ == State::starting && f.seq == setup_seqs_[2]) {
          reply_consumer_ = f.consumer_tag;
          state_ = State::ready;
          start_timer_.cancel();
          if (auto done = std::move(start_done_)) done("");
        }
        return;
      case FrameType::error:
        if (state_ == State::starting && f.seq == setup_seqs_[0] && existing_queue(f)) {
          note_existing_queue(endpoint_, "requester");
          if (endpoint_.one_way) return on_frame({.type = FrameType::ok, .seq = setup_seqs_[2]});  // ready
          return;  // the reply queue's answers follow
        }
        if (state_ == State::starting)
          return fail_start(fmt::format("embedded broker at {}: {} ({})", endpoint_.url, f.body,
                                        f.seq == setup_seqs_[0] ? "declaring the request queue" : "setting up replies"));
        if (f.seq == 0) return;  // the broker closes us next: on_closed reports the requests
        // An error for a publish means it was refused without a confirm; we always ask for one.
        return;
      default: return;
    }
  }

  void on_confirm(const Frame& f) {
    // In publish order; anything else means the stream is not what we think it is.
    if (confirms_.empty() || confirms_.front().first != f.seq) return broken("confirm out of order");
    const std::uint64_t correlation_id = confirms_.front().second;
    confirms_.pop_front();
    if (f.status == Status::ok) {
      // One-way: the confirm is the outcome.
      if (endpoint_.one_way) book_->settle(detail::ReplyBook::Kind::reply, correlation_id, Outcome::ok, {});
      return;
    }
    book_->settle(detail::ReplyBook::Kind::failure, correlation_id,
                  f.status == Status::overflow ? Outcome::rejected : Outcome::server_error, {});
  }

  void on_reply_frame(const Frame& f) {
    if (f.consumer_tag != reply_consumer_) return;
    book_->settle(detail::ReplyBook::Kind::reply, f.correlation_id, Outcome::ok, f.body);
  }

  void on_closed(const std::string& reason) {
    if (state_ == State::starting) return fail_start(fmt::format("embedded broker at {}: {}", endpoint_.url, reason));
    broken(reason);
  }

  // The connection is gone: every request still out fails now, later ones are unavailable.
  void broken(const std::string& /*reason*/) {
    if (state_ != State::ready) return;
    state_ = State::broken;
    if (client_) client_->close();
    confirms_.clear();
    book_->settle_all(Outcome::transport_error);  // stops early if on_reply calls stop()
  }

  void fail_start(std::string reason) {
    if (state_ != State::starting) return;
    state_ = State::broken;
    start_timer_.cancel();
    if (client_) client_->close();
    if (auto done = std::move(start_done_)) done(std::move(reason));
  }

  // on_reply runs from the io_context, never inside request() (the caller may not expect re-entry):
  // the book's mailbox posts it.
  void answer_later(std::uint64_t correlation_id, Outcome outcome) {
    book_->issue(correlation_id);
    book_->fail(correlation_id, outcome);
  }

  Endpoint endpoint_;
  asio::io_context& io_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers we post hold a weak_ptr to it
  std::shared_ptr<detail::ReplyBook> book_;  // exactly one outcome per correlation id
  std::string reply_queue_;
  asio::steady_timer start_timer_;
  std::shared_ptr<NativeClient> client_;
  std::function<void(std::string)> start_done_;
  State state_ = State::idle;
  std::uint32_t seq_ = 0;
  std::uint32_t setup_seqs_[3] = {0, 0, 0};
  std::uint64_t reply_consumer_ = 0;
  std::deque<std::pair<std::uint32_t, std::uint64_t>> confirms_;  // (publish seq, correlation id)
};

// "worker-3" -> "pb-wk3-mqN" within the kernel's 15 characters, as roles/worker names its SQL threads.
std::string consumer_thread_name(const std::string& id, int index) {
  std::string short_id = id;
  if (short_id.rfind("worker-", 0) == 0) short_id = "wk" + short_id.substr(7);
  const std::string suffix = fmt::format("-mq{}", index);
  const std::size_t room = 15 - std::min<std::size_t>(15, 3 + suffix.size());
  return ("pb-" + short_id.substr(0, room) + suffix).substr(0, 15);
}

// Single writer (its thread), any reader: relaxed loads and stores, no read-modify-write.
struct Counter {
  std::atomic<std::uint64_t> value{0};
  void add() noexcept { value.store(value.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
};

class EmbeddedResponder final : public Responder {
 public:
  EmbeddedResponder(const Endpoint& endpoint, int threads, HandlerFactory handlers, std::string worker_id)
      : endpoint_(endpoint), handlers_(std::move(handlers)), worker_id_(std::move(worker_id)) {
    if (std::string bad = check_queue_name(endpoint_.request_queue); !bad.empty()) throw std::runtime_error(bad);
    tls_ = broker::native_client_tls(endpoint_.url, endpoint_.tls);
    const int n = std::max(1, threads);
    std::vector<std::future<std::string>> ready;
    for (int i = 0; i < n; ++i) consumers_.push_back(std::make_unique<ConsumerThread>(*this, i));
    for (auto& c : consumers_) ready.push_back(c->start());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(endpoint_.timeout_ns) +
                          std::chrono::milliseconds(500);
    std::string error;
    for (auto& f : ready) {
      if (f.wait_until(deadline) != std::future_status::ready) {
        error = fmt::format("embedded broker at {}: consumer not ready within {} ms", endpoint_.url,
                            endpoint_.timeout_ns / kNanosPerMilli);
        break;
      }
      if (std::string e = f.get(); !e.empty()) {
        error = std::move(e);
        break;
      }
    }
    if (!error.empty()) {
      stop();
      throw std::runtime_error(error);
    }
  }
  ~EmbeddedResponder() override { stop(); }

  void stop() override {
    if (stopped_.exchange(true)) return;
    for (auto& c : consumers_) c->stop();
    for (auto& c : consumers_) c->join();
  }

  void pause(bool paused) override {
    for (auto& c : consumers_) c->pause(paused);
  }

  Stats stats() const override {
    Stats s;
    for (const auto& c : consumers_) {
      s.consumed += c->consumed.get();
      s.replied += c->replied.get();
      s.redelivered += c->redelivered.get();
      s.reply_failures += c->reply_failures.get();
    }
    return s;
  }

 private:
  class ConsumerThread {
   public:
    ConsumerThread(EmbeddedResponder& owner, int index) : owner_(owner), index_(index) {}

    std::future<std::string> start() {
      auto future = ready_.get_future();
      thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), consumer_thread_name(owner_.worker_id_, index_).c_str());
        handler_ = owner_.handlers_(index_);
        connect();
        io_.run();
        client_.reset();
      });
      return future;
    }

    // Any thread.
    void pause(bool paused) {
      asio::post(io_, [this, paused] {
        if (paused == paused_ || !client_ || !client_->is_open()) {
          paused_ = paused;
          return;
        }
        paused_ = paused;
        if (paused) {
          // Unacked deliveries go back to the queue; those already on their way are ignored.
          client_->send({.type = FrameType::cancel, .seq = ++seq_, .consumer_tag = consumer_tag_});
          consumer_tag_ = 0;
        } else {
          send_consume();
        }
      });
    }

    void stop() {
      stopping_.store(true, std::memory_order_relaxed);
      asio::post(io_, [this] {
        reconnect_timer_.cancel();
        if (client_) client_->close();  // the broker requeues what we had not acked
        work_.reset();
      });
    }
    void join() {
      if (thread_.joinable()) thread_.join();
    }

    Counter consumed, replied, redelivered, reply_failures;

   private:
    // A fresh connection: declare the request queue, consume it (unless paused). Also how the
    // thread comes back after losing the broker (reconnect_later).
    void connect() {
      client_ = std::make_shared<NativeClient>(io_, protocol::kDefaultMaxFrameBytes, owner_.tls_);
      client_->connect(
          owner_.endpoint_.url, owner_.endpoint_.timeout_ns, [this](const Frame& f) { on_frame(f); },
          [this](const std::string& reason) { on_closed(reason); },
          [this](const std::string& error) {
            if (!error.empty()) {
              if (!started_) return report_ready(fmt::format("embedded broker at {}: {}", owner_.endpoint_.url, error));
              return reconnect_later();
            }
            declare_seq_ = ++seq_;
            client_->send({.type = FrameType::declare_queue, .seq = declare_seq_,
                           .count = static_cast<std::uint32_t>(owner_.endpoint_.max_pending),
                           .name = owner_.endpoint_.request_queue});
            if (!paused_) send_consume();
          });
    }

    // After a first successful start, a lost broker is retried every 100 ms .. 1 s until stop().
    void reconnect_later() {
      if (!started_ || stopping_.load(std::memory_order_relaxed)) return;
      reconnect_timer_.expires_after(reconnect_delay_);
      reconnect_delay_ = std::min<std::chrono::milliseconds>(reconnect_delay_ * 2, std::chrono::seconds(1));
      reconnect_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || stopping_.load(std::memory_order_relaxed)) return;
        connect();
      });
    }

    void send_consume() {
      consume_seq_ = ++seq_;
      client_->send({.type = FrameType::consume, .seq = consume_seq_,
                     .count = static_cast<std::uint32_t>(owner_.endpoint_.prefetch), .name = owner_.endpoint_.request_queue});
    }

    void on_frame(const Frame& f) {
      switch (f.type) {
        case FrameType::deliver: return on_delivery(f);
        case FrameType::consume_ok:
          if (f.seq == consume_seq_) {
            if (paused_) {
              // Paused while the consume was on its way: take it back at once.
              client_->send({.type = FrameType::cancel, .seq = ++seq_, .consumer_tag = f.consumer_tag});
              return;
            }
            consumer_tag_ = f.consumer_tag;
            reconnect_delay_ = std::chrono::milliseconds(100);
            started_ = true;
            report_ready("");
          }
          return;
        case FrameType::confirm:
          if (f.status != Status::ok) reply_failures.add();
          return;
        case FrameType::error:
          if (f.seq == declare_seq_ && existing_queue(f)) {
            if (!noted_existing_) note_existing_queue(owner_.endpoint_, consumer_thread_name(owner_.worker_id_, index_));
            noted_existing_ = true;
            return;  // the consume that follows decides
          }
          if (f.seq == declare_seq_ || f.seq == consume_seq_)
            report_ready(fmt::format("embedded broker at {}: {} (queue {})", owner_.endpoint_.url, f.body,
                                     owner_.endpoint_.request_queue));
          else if (f.seq != 0)
            reply_failures.add();  // an ack or reply the broker refused
          return;
        default: return;
      }
    }

    void on_delivery(const Frame& f) {
      if (paused_ || f.consumer_tag != consumer_tag_ || stopping_.load(std::memory_order_relaxed)) return;
      consumed.add();
      if (f.has_flag(protocol::kFlagRedelivered)) redelivered.add();
      std::string reply;
      try {
        reply = handler_(f.body);
      } catch (const std::exception&) {
        // A request the handler cannot take is not retried forever: the broker discards (counts) it.
        reply_failures.add();
        client_->send({.type = FrameType::nack, .seq = ++seq_, .consumer_tag = f.consumer_tag, .delivery_tag = f.delivery_tag});
        return client_->flush();
      }
      // Stopped while the handler ran: no reply and no ack, the broker redelivers it elsewhere.
      if (stopping_.load(std::memory_order_relaxed)) return;
      if (!f.reply_to.empty()) {
        client_->send({.type = FrameType::publish, .seq = ++seq_, .flags = protocol::kFlagConfirm,
                       .correlation_id = f.correlation_id, .name = f.reply_to, .body = reply});
        replied.add();
      } else if (!owner_.endpoint_.one_way) {
        reply_failures.add();
      }
      client_->send({.type = FrameType::ack, .seq = ++seq_, .consumer_tag = f.consumer_tag, .delivery_tag = f.delivery_tag});
      client_->flush();
    }

    void on_closed(const std::string& reason) {
      report_ready(fmt::format("embedded broker at {}: {}", owner_.endpoint_.url, reason));
      consumer_tag_ = 0;  // the broker has requeued whatever we held
      if (stopping_.load(std::memory_order_relaxed) || !started_) return;
      fmt::print(stderr, "{}: connection to the broker lost ({}), reconnecting\n",
                 consumer_thread_name(owner_.worker_id_, index_), reason);
      reconnect_later();
    }

    void report_ready(std::string error) {
      if (reported_) return;
      reported_ = true;
      ready_.set_value(std::move(error));
    }

    EmbeddedResponder& owner_;
    const int index_;
    asio::io_context io_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{asio::make_work_guard(io_)};
    std::thread thread_;
    std::promise<std::string> ready_;
    bool reported_ = false;
    Handler handler_;
    std::shared_ptr<NativeClient> client_;
    asio::steady_timer reconnect_timer_{io_};
    std::chrono::milliseconds reconnect_delay_{100};
    bool started_ = false;  // consuming once: from then on a lost connection is retried
    std::atomic<bool> stopping_{false};
    bool paused_ = false;
    bool noted_existing_ = false;  // the queue's other settings said once, not at each reconnect
    std::uint32_t seq_ = 0, declare_seq_ = 0, consume_seq_ = 0;
    std::uint64_t consumer_tag_ = 0;
  };

  Endpoint endpoint_;
  broker::NativeClientTls tls_;  // one OpenSSL context for every consumer thread (and reconnect)
  HandlerFactory handlers_;
  std::string worker_id_;
  std::vector<std::unique_ptr<ConsumerThread>> consumers_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

std::unique_ptr<Requester> make_embedded_requester(const Endpoint& endpoint, asio::io_context& io,
                                                   Requester::OnReply on_reply, int index) {
  return std::make_unique<EmbeddedRequester>(endpoint, io, std::move(on_reply), index);
}

std::unique_ptr<Responder> make_embedded_responder(const Endpoint& endpoint, int threads,
                                                   Responder::HandlerFactory handlers, std::string worker_id) {
  return std::make_unique<EmbeddedResponder>(endpoint, threads, std::move(handlers), std::move(worker_id));
}

}  // namespace pathbench::mq
