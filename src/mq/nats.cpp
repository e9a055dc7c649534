// The queue path over a real NATS server (nats.c 3.4).
//
// Request/reply without nats.c's own natsConnection_Request (which blocks a thread per request):
// each Requester subscribes once to a wildcard inbox "_INBOX.<unique>.*" and publishes every
// request with reply subject "_INBOX.<unique>.<correlation id>" — the correlation id travels in the
// reply subject's last token, no headers needed. Replies arrive on the subscription's nats.c
// thread and are posted to the io_context in batches (mq/reply_book.h). A "no responders" status
// message (the server has no subscriber on the request subject) → unavailable; a disconnect →
// every request out → transport_error (NATS keeps nothing for them); publishing while not
// connected → unavailable. nats.c's request timeouts are not used at all: the load generator owns
// deadlines.
//
// Responders: `threads` named threads "pb-<id>-nats<n>" sharing one connection, each with its own
// synchronous queue subscription in the group "pathbench-workers" (so they compete with each
// other and with other Responders) and a bounded NextMsg loop; pause(true) unsubscribes,
// pause(false) subscribes again. There is no queue and no ack in core NATS: a request published
// while no responder is subscribed comes back "no responders" at once, and one taken by a
// responder that stops before replying is simply lost (the requester's deadline reports it).
// endpoint.max_pending has no NATS counterpart and is not used: the only bound is nats.c's
// per-subscription pending limit (its default, 65536 messages), beyond which nats.c drops
// messages as a "slow consumer" — seen by the requester as timeouts, not rejections. (Setting that
// limit to max_pending was tried: it turns a burst into silent losses, the opposite of a bound.)
#include <fmt/format.h>
#include <nats/nats.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/url.h"
#include "mq/backends.h"
#include "mq/nats_common.h"
#include "mq/reply_book.h"

namespace pathbench::mq {
namespace {

using detail::ReplyBook;

constexpr const char* kQueueGroup = "pathbench-workers";
constexpr std::int64_t kPollMs = 50;  // NextMsg bound: how soon a responder notices stop/pause

using Gate = detail::NatsGate;
using detail::new_nats_gate;
constexpr auto to_ms = detail::nats_ms;

std::string status_text(natsStatus s) { return detail::nats_error_text(s); }

// Connection options shared by both sides: a request/reply ping-pong has nothing to batch with,
// so each publish is written at once (under load the socket write coalesces anyway).
natsOptions* make_options(const Endpoint& endpoint, const std::string& name) {
  std::string error;
  natsOptions* opts = detail::nats_options(endpoint, name, true, &error);
  if (!opts) throw std::runtime_error(error);
  return opts;
}

void on_reply_msg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* gate = static_cast<Gate*>(closure);
  {
    std::lock_guard lock(gate->mutex);
    const char* subject = natsMsg_GetSubject(msg);
    std::size_t len = std::strlen(subject);
    std::uint64_t id;
    if (gate->book && len > gate->prefix_len &&
        std::from_chars(subject + gate->prefix_len, subject + len, id).ec == std::errc()) {
      if (natsMsg_IsNoResponders(msg)) gate->book->fail(id, Outcome::unavailable);
      else gate->book->reply(id, std::string(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
    }
  }
  natsMsg_Destroy(msg);
}

void name_this_thread(const std::string& name) { pthread_setname_np(pthread_self(), name.c_str()); }

// ---------------------------------------------------------------------------------------------
// Requester

class NatsRequester final : public Requester {
 public:
  NatsRequester(const Endpoint& endpoint, boost::asio::io_context& io, OnReply on_reply, int index)
      : endpoint_(endpoint), io_(io), book_(std::make_shared<ReplyBook>(io, std::move(on_reply))), index_(index),
        gate_(new_nats_gate()) {
    std::lock_guard lock(gate_->mutex);
    gate_->book = book_;
  }
  ~NatsRequester() override { stop(); }

  // nats.c connects synchronously (bounded by natsOptions_SetTimeout): do it on a short-lived
  // thread so the io_context keeps running.
  void start(std::function<void(std::string)> done) override {
    connector_ = std::thread([this, done = std::move(done)] {
      name_this_thread(fmt::format("pb-nats-c{}", index_));
      std::string error = connect();
      boost::asio::post(io_, [this, book = book_, done, error] {
        if (book->stopped()) return;
        connected_ = error.empty();
        done(error);
      });
    });
  }

  void request(std::uint64_t correlation_id, std::string_view body) override {
    book_->issue(correlation_id);
    if (!connected_ || natsConnection_Status(connection_) != NATS_CONN_STATUS_CONNECTED) {
      book_->fail(correlation_id, Outcome::unavailable);
      return;
    }
    if (endpoint_.one_way) {
      // Core NATS has no broker acknowledgement: accepted by the client library = confirmed.
      natsStatus s = natsConnection_Publish(connection_, endpoint_.request_queue.c_str(), body.data(),
                                            static_cast<int>(body.size()));
      if (s == NATS_OK) book_->reply(correlation_id, {});
      else book_->fail(correlation_id, s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED
                                           ? Outcome::unavailable
                                           : Outcome::transport_error);
      return;
    }
    auto end = std::to_chars(reply_subject_.data() + prefix_len_, reply_subject_.data() + reply_subject_.size() - 1,
                             correlation_id).ptr;
    *end = '\0';
    natsStatus s = natsConnection_PublishRequest(connection_, endpoint_.request_queue.c_str(), reply_subject_.data(),
                                                 body.data(), static_cast<int>(body.size()));
    if (s != NATS_OK)
      book_->fail(correlation_id, s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED
                                      ? Outcome::unavailable
                                      : Outcome::transport_error);
  }

  void stop() override {
    book_->stop();
    if (connector_.joinable()) connector_.join();
    {
      std::lock_guard lock(gate_->mutex);
      gate_->book.reset();
    }
    connected_ = false;
    if (subscription_) {
      natsSubscription_Unsubscribe(subscription_);
      natsSubscription_Destroy(subscription_);
      subscription_ = nullptr;
    }
    if (connection_) {
      natsConnection_Close(connection_);
      natsConnection_Destroy(connection_);
      connection_ = nullptr;
    }
  }

  std::uint64_t duplicates() const noexcept override { return book_->duplicates(); }

 private:
  std::string connect() {
    std::string error;
    natsOptions* opts = detail::nats_options(endpoint_, fmt::format("pathbench-requester-{}", index_), true, &error);
    if (!opts) return error;
    natsOptions_SetDisconnectedCB(opts, detail::nats_fail_all_on_disconnect, gate_);
    natsStatus s = natsConnection_Connect(&connection_, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK) {
      connection_ = nullptr;
      return fmt::format("nats at {}: {}", redact_urls(endpoint_.url), status_text(s));
    }
    if (endpoint_.one_way) return {};  // no replies to subscribe to
    natsInbox* inbox = nullptr;
    natsInbox_Create(&inbox);
    std::string prefix = fmt::format("{}.", inbox);
    natsInbox_Destroy(inbox);
    if (prefix.size() + 24 > reply_subject_.size()) return "nats: inbox name too long";
    std::memcpy(reply_subject_.data(), prefix.data(), prefix.size());
    prefix_len_ = prefix.size();
    {
      std::lock_guard lock(gate_->mutex);
      gate_->prefix_len = prefix_len_;
    }
    s = natsConnection_Subscribe(&subscription_, connection_, (prefix + "*").c_str(), on_reply_msg, gate_);
    if (s == NATS_OK) natsSubscription_SetPendingLimits(subscription_, -1, -1);  // replies are never dropped here
    // The server must know the subscription before the first request's reply comes back.
    if (s == NATS_OK) s = natsConnection_FlushTimeout(connection_, to_ms(endpoint_.timeout_ns));
    if (s != NATS_OK) return fmt::format("nats at {}: subscribing to replies: {}", redact_urls(endpoint_.url), status_text(s));
    return {};
  }

  const Endpoint endpoint_;
  boost::asio::io_context& io_;
  std::shared_ptr<ReplyBook> book_;
  const int index_;
  Gate* gate_;
  std::thread connector_;
  // Written by the connector thread before it posts `done`; read on the io thread after.
  natsConnection* connection_ = nullptr;
  natsSubscription* subscription_ = nullptr;
  std::array<char, 128> reply_subject_{};
  std::size_t prefix_len_ = 0;
  bool connected_ = false;  // io thread
};

// ---------------------------------------------------------------------------------------------
// Responder

class NatsResponder final : public Responder {
 public:
  NatsResponder(const Endpoint& endpoint, int threads, HandlerFactory handlers, std::string worker_id)
      : endpoint_(endpoint), worker_id_(std::move(worker_id)) {
    natsOptions* opts = make_options(endpoint_, fmt::format("pathbench-responder-{}", worker_id_));
    natsStatus s = natsConnection_Connect(&connection_, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK) throw std::runtime_error(fmt::format("nats at {}: {}", redact_urls(endpoint_.url), status_text(s)));
    workers_.reserve(threads);
    for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>());
    for (int i = 0; i < threads; ++i) {
      // Subscribe here, not in the thread, so requests published right after the factory returns
      // find a responder.
      std::string error = subscribe(*workers_[i]);
      if (!error.empty()) {
        stop();
        throw std::runtime_error(error);
      }
    }
    s = natsConnection_FlushTimeout(connection_, to_ms(endpoint_.timeout_ns));
    if (s != NATS_OK) {
      stop();
      throw std::runtime_error(fmt::format("nats at {}: flushing subscriptions: {}", redact_urls(endpoint_.url), status_text(s)));
    }
    for (int i = 0; i < threads; ++i)
      workers_[i]->thread = std::thread([this, i, handler = handlers(i)] { run(i, handler); });
  }
  ~NatsResponder() override { stop(); }

  void stop() override {
    stopping_.store(true);
    cv_.notify_all();
    for (auto& w : workers_)
      if (w->thread.joinable()) w->thread.join();
    for (auto& w : workers_) unsubscribe(*w);
    if (connection_) {
      natsConnection_Close(connection_);
      natsConnection_Destroy(connection_);
      connection_ = nullptr;
    }
  }

  // Returns once every thread has (un)subscribed and the server has seen it, bounded by
  // endpoint.timeout_ns.
  void pause(bool paused) override {
    paused_.store(paused);
    std::unique_lock lock(mutex_);
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::nanoseconds(endpoint_.timeout_ns), [&] {
      return std::all_of(workers_.begin(), workers_.end(), [&](auto& w) { return w->paused_applied == paused; });
    });
    lock.unlock();
    if (connection_) natsConnection_FlushTimeout(connection_, to_ms(endpoint_.timeout_ns));
  }

  Stats stats() const override {
    return Stats{consumed_.load(), replied_.load(), 0, reply_failures_.load()};
  }

 private:
  struct Worker {
    std::thread thread;
    natsSubscription* subscription = nullptr;  // owned by the worker's thread once it runs
    bool paused_applied = false;               // guarded by mutex_
  };

  std::string subscribe(Worker& w) {
    natsStatus s = natsConnection_QueueSubscribeSync(&w.subscription, connection_, endpoint_.request_queue.c_str(),
                                                     kQueueGroup);
    if (s != NATS_OK) {
      w.subscription = nullptr;
      return fmt::format("nats at {}: subscribing to {}: {}", redact_urls(endpoint_.url), endpoint_.request_queue, status_text(s));
    }
    return {};
  }
  void unsubscribe(Worker& w) {
    if (!w.subscription) return;
    natsSubscription_Unsubscribe(w.subscription);
    natsSubscription_Destroy(w.subscription);
    w.subscription = nullptr;
  }

  void run(int index, const Handler& handler) {
    name_this_thread(detail::thread_name(worker_id_, fmt::format("nats{}", index)));
    Worker& me = *workers_[index];
    while (!stopping_.load()) {
      const bool want_paused = paused_.load();
      if (want_paused && me.subscription) unsubscribe(me);
      else if (!want_paused && !me.subscription) subscribe(me);  // on failure: try again next round
      {
        std::unique_lock lock(mutex_);
        if (me.paused_applied != !me.subscription) {
          me.paused_applied = !me.subscription;
          cv_.notify_all();
        }
        if (!me.subscription) {
          cv_.wait_for(lock, std::chrono::milliseconds(kPollMs));
          continue;
        }
      }
      natsMsg* msg = nullptr;
      natsStatus s = natsSubscription_NextMsg(&msg, me.subscription, kPollMs);
      if (s == NATS_TIMEOUT) continue;
      if (s != NATS_OK) {
        // Closed connection or a slow-consumer notice: start over with a fresh subscription.
        if (s != NATS_SLOW_CONSUMER) unsubscribe(me);
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(kPollMs));
        continue;
      }
      consumed_.fetch_add(1, std::memory_order_relaxed);
      std::string reply = handler(std::string_view(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
      const char* reply_to = natsMsg_GetReply(msg);
      natsStatus ps = reply_to ? natsConnection_Publish(connection_, reply_to, reply.data(), static_cast<int>(reply.size()))
                               : NATS_INVALID_SUBJECT;
      natsMsg_Destroy(msg);
      if (ps == NATS_OK) replied_.fetch_add(1, std::memory_order_relaxed);
      else if (!endpoint_.one_way) reply_failures_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  const Endpoint endpoint_;
  const std::string worker_id_;
  natsConnection* connection_ = nullptr;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stopping_{false}, paused_{false};
  std::atomic<std::uint64_t> consumed_{0}, replied_{0}, reply_failures_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
};

}  // namespace

std::unique_ptr<Requester> make_nats_requester(const Endpoint& endpoint, boost::asio::io_context& io,
                                               Requester::OnReply on_reply, int index) {
  if (endpoint.one_way && endpoint.durable) return make_jetstream_requester(endpoint, io, std::move(on_reply), index);
  return std::make_unique<NatsRequester>(endpoint, io, std::move(on_reply), index);
}

std::unique_ptr<Responder> make_nats_responder(const Endpoint& endpoint, int threads,
                                               Responder::HandlerFactory handlers, std::string worker_id) {
  if (endpoint.one_way && endpoint.durable)
    return make_jetstream_responder(endpoint, threads, std::move(handlers), std::move(worker_id));
  return std::make_unique<NatsResponder>(endpoint, threads, std::move(handlers), std::move(worker_id));
}

}  // namespace pathbench::mq
