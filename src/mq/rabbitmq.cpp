// The queue path over a real RabbitMQ (AMQP 0-9-1 through rabbitmq-c 0.11).
//
// rabbitmq-c is blocking and a connection must stay on one thread, so every connection here is
// owned by exactly one thread:
//   Requester — one I/O thread "pb-amqp-c<index>". The io_context thread hands it publishes through
//     a mutex-guarded vector and an eventfd (written only when the vector was empty); the I/O
//     thread sleeps in ppoll() on the socket and the eventfd and posts outcomes back to the
//     io_context in batches (mq/reply_book.h). Measured against the alternative, a short timed
//     wait on the socket alone with no wake-up (echo, 1 in flight, loaded 2-core machine): p50
//     257-341 us with the eventfd, 500-560 us with a 100 us timeout, 570 us at 10 us, 1.6 ms at
//     1 ms; the 64-in-flight rate was the same within noise (13-15k/s). So: the eventfd.
//   Responder — `threads` consumer threads "pb-<id>-amqp<n>", each with its own connection,
//     consume → handler → publish the reply → ack.
// Reliability settings: publisher confirms on the requester's channel
// (nack → rejected), the request queue declared with x-max-length = max_pending and
// x-overflow = reject-publish (a full queue nacks, never drops), mandatory publishes (basic.return
// → server_error), manual acks and basic.qos prefetch on the responders, heartbeats, and a bound on
// every blocking call (socket open, login handshake and every RPC share endpoint.timeout_ns; frame
// reads are driven by poll() with a bound, and rabbitmq-c's heartbeat check bounds the rest).
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/thread_cpu.h"
#include "core/url.h"
#include "mq/backends.h"
#include "mq/amqp_connection.h"
#include "mq/reply_book.h"

namespace pathbench::mq {
namespace {

using detail::ReplyBook;
using namespace amqp_detail;

// ---------------------------------------------------------------------------------------------
// Requester

class RabbitRequester final : public Requester {
 public:
  RabbitRequester(const Endpoint& endpoint, boost::asio::io_context& io, OnReply on_reply, int index)
      : endpoint_(endpoint), io_(io), book_(std::make_shared<ReplyBook>(io, std::move(on_reply))), index_(index) {}
  ~RabbitRequester() override { stop(); }

  void start(std::function<void(std::string)> done) override {
    thread_ = std::thread([this, done = std::move(done)]() mutable { run(std::move(done)); });
  }

  void request(std::uint64_t correlation_id, std::string_view body) override {
    book_->issue(correlation_id);
    bool wake;
    {
      std::lock_guard lock(mutex_);
      wake = queue_.empty();
      queue_.push_back(Publish{correlation_id, std::string(body)});
    }
    if (wake) wake_.notify();
  }

  void stop() override {
    book_->stop();
    stopping_.store(true);
    wake_.notify();
    if (thread_.joinable()) thread_.join();
  }

  std::uint64_t duplicates() const noexcept override { return book_->duplicates(); }

 private:
  struct Publish {
    std::uint64_t correlation_id;
    std::string body;
  };
  // A publish waiting for its confirm: delivery tags are consecutive per channel from 1.
  struct Unconfirmed {
    std::uint64_t correlation_id;
    bool settled;
  };

  void run(std::function<void(std::string)> done) {
    const std::string name = fmt::format("pb-amqp-c{}", index_);
    name_this_thread(name);
    // Its CPU is the client's cost: leave it behind for the CPU samples when the thread ends.
    struct RecordCpu {
      const std::string& name;
      ~RecordCpu() { record_ended_thread_cpu(name, this_thread_cpu_ns()); }
    } record_cpu{name};
    Nanos backoff_ns = 100 * kNanosPerMilli;
    Nanos next_attempt_ns = 0;
    bool first = true;
    while (!stopping_.load()) {
      if (!connection_) {
        if (!first && now_ns() < next_attempt_ns) {
          answer_queued(Outcome::unavailable);
          wake_.wait(std::min<Nanos>(next_attempt_ns - now_ns(), 100 * kNanosPerMilli));
          answer_queued(Outcome::unavailable);
          continue;
        }
        std::string error = connect();
        if (first) {
          first = false;
          boost::asio::post(io_, [book = book_, done = std::move(done), error] {
            if (!book->stopped()) done(error);
          });
        }
        if (!error.empty()) {
          answer_queued(Outcome::unavailable);
          next_attempt_ns = now_ns() + backoff_ns;
          backoff_ns = std::min(backoff_ns * 2, kMaxBackoffNs);
          continue;
        }
        backoff_ns = 100 * kNanosPerMilli;
      }
      if (!publish_queued() || !read_frames()) {
        lose_connection();
        next_attempt_ns = now_ns() + backoff_ns;
        continue;
      }
      book_->deliver(events_);
      connection_->wait(wake_, idle_wait_ns(*connection_));
    }
    connection_.reset();
  }

  // Connects and sets up the channel; "" or the reason.
  std::string connect() {
    try {
      auto c = std::make_unique<AmqpConnection>(endpoint_);
      amqp_connection_state_t s = c->state();
      amqp_confirm_select(s, kChannel);
      c->check_rpc("confirm.select");
      c->declare_request_queue(endpoint_);
      if (endpoint_.one_way) {
        reply_to_.clear();  // one-way messaging: the publisher confirm is the outcome
      } else if (endpoint_.direct_reply_to) {
        reply_to_ = "amq.rabbitmq.reply-to";
      } else {
        // Server-named, exclusive, auto-delete: gone with this connection.
        auto* ok = amqp_queue_declare(s, kChannel, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
        c->check_rpc("declaring the reply queue");
        reply_to_ = bytes_to_string(ok->queue);
      }
      // Replies are consumed with no_ack (direct reply-to requires it; a lost reply is the
      // load generator's timeout either way).
      if (!endpoint_.one_way) {
        amqp_basic_consume(s, kChannel, amqp_cstring_bytes(reply_to_.c_str()), amqp_empty_bytes, 0, /*no_ack=*/1, 0,
                           amqp_empty_table);
        c->check_rpc("consuming replies");
      }
      connection_ = std::move(c);
      next_tag_ = 1;
      unconfirmed_.clear();
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  void answer_queued(Outcome outcome) {
    {
      std::lock_guard lock(mutex_);
      taking_.swap(queue_);
    }
    for (auto& p : taking_) events_.push_back({ReplyBook::Kind::failure, p.correlation_id, outcome, {}});
    taking_.clear();
    book_->deliver(events_);
  }

  void lose_connection() {
    connection_->mark_broken();
    connection_.reset();
    unconfirmed_.clear();
    book_->deliver(events_);
    book_->fail_all(Outcome::transport_error);
  }

  bool publish_queued() {
    {
      std::lock_guard lock(mutex_);
      taking_.swap(queue_);
    }
    amqp_connection_state_t s = connection_->state();
    amqp_bytes_t routing_key = amqp_cstring_bytes(endpoint_.request_queue.c_str());
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    if (!endpoint_.one_way) props._flags |= AMQP_BASIC_REPLY_TO_FLAG;
    // transient: the broker's bound, not the disk, is under test — unless one-way messaging asks
    // for durable messages (persistent: confirmed once written).
    props.delivery_mode = endpoint_.durable ? 2 : 1;
    props.reply_to = amqp_cstring_bytes(reply_to_.c_str());
    bool ok = true;
    std::size_t i = 0;
    for (; i < taking_.size(); ++i) {
      auto& p = taking_[i];
      char id[24];
      auto end = std::to_chars(id, id + sizeof id, p.correlation_id).ptr;
      props.correlation_id = amqp_bytes_t{static_cast<std::size_t>(end - id), id};
      amqp_bytes_t body{p.body.size(), p.body.data()};
      if (amqp_basic_publish(s, kChannel, amqp_empty_bytes, routing_key, /*mandatory=*/1, 0, &props, body) !=
          AMQP_STATUS_OK) {
        ok = false;
        break;
      }
      unconfirmed_.push_back({p.correlation_id, false});
      ++next_tag_;
    }
    // What was not published never reached the broker; what was is in unconfirmed_ and is
    // swept by the connection-lost fail_all.
    for (; i < taking_.size(); ++i)
      events_.push_back({ReplyBook::Kind::failure, taking_[i].correlation_id, Outcome::unavailable, {}});
    taking_.clear();
    return ok;
  }

  // Settles delivery tags (one, or all up to `tag` when `multiple`) as acked or nacked.
  void settle(std::uint64_t tag, bool multiple, bool nack) {
    std::uint64_t first = next_tag_ - unconfirmed_.size();
    if (tag < first || tag >= next_tag_) return;
    auto settle_one = [&](Unconfirmed& u) {
      if (u.settled) return;
      u.settled = true;
      if (nack) events_.push_back({ReplyBook::Kind::failure, u.correlation_id, Outcome::rejected, {}});
      // One-way: the confirm is the outcome (a returned publish was settled by its return first).
      else if (endpoint_.one_way) events_.push_back({ReplyBook::Kind::reply, u.correlation_id, Outcome::ok, {}});
    };
    if (multiple)
      for (std::uint64_t t = first; t <= tag; ++t) settle_one(unconfirmed_[t - first]);
    else
      settle_one(unconfirmed_[tag - first]);
    while (!unconfirmed_.empty() && unconfirmed_.front().settled) unconfirmed_.pop_front();
  }

  // Reads every frame available now. false when the connection is gone.
  bool read_frames() {
    amqp_connection_state_t s = connection_->state();
    for (;;) {
      amqp_frame_t frame;
      int rc = connection_->next_frame(frame);
      if (rc == AMQP_STATUS_TIMEOUT) break;
      if (rc != AMQP_STATUS_OK) return false;
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
          auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
          settle(m->delivery_tag, m->multiple, false);
          break;
        }
        case AMQP_BASIC_NACK_METHOD: {
          auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
          settle(m->delivery_tag, m->multiple, true);
          break;
        }
        case AMQP_BASIC_DELIVER_METHOD:
        case AMQP_BASIC_RETURN_METHOD: {
          const bool returned = frame.payload.method.id == AMQP_BASIC_RETURN_METHOD;
          amqp_message_t message;
          amqp_rpc_reply_t r = amqp_read_message(s, frame.channel, &message, 0);
          if (r.reply_type != AMQP_RESPONSE_NORMAL) return false;
          std::uint64_t id;
          if ((message.properties._flags & AMQP_BASIC_CORRELATION_ID_FLAG) &&
              parse_u64(message.properties.correlation_id, id)) {
            // A returned publish is also confirmed (acked) afterwards; the return decides it.
            if (returned) events_.push_back({ReplyBook::Kind::failure, id, Outcome::server_error, {}});
            else events_.push_back({ReplyBook::Kind::reply, id, Outcome::ok, bytes_to_string(message.body)});
          }
          amqp_destroy_message(&message);
          break;
        }
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD:
        case AMQP_BASIC_CANCEL_METHOD:  // the server cancelled our reply consumer
          return false;
        default: break;
      }
    }
    amqp_maybe_release_buffers(s);
    return true;
  }

  const Endpoint endpoint_;
  boost::asio::io_context& io_;
  std::shared_ptr<ReplyBook> book_;
  const int index_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  Wakeup wake_;
  std::mutex mutex_;
  std::vector<Publish> queue_;  // guarded by mutex_
  // I/O thread only
  std::vector<Publish> taking_;
  std::vector<ReplyBook::Event> events_;
  std::unique_ptr<AmqpConnection> connection_;
  std::string reply_to_;
  std::deque<Unconfirmed> unconfirmed_;
  std::uint64_t next_tag_ = 1;
};

// ---------------------------------------------------------------------------------------------
// Responder

class RabbitResponder final : public Responder {
 public:
  RabbitResponder(const Endpoint& endpoint, int threads, HandlerFactory handlers, std::string worker_id)
      : endpoint_(endpoint), worker_id_(std::move(worker_id)) {
    consumers_.reserve(threads);
    for (int i = 0; i < threads; ++i) consumers_.push_back(std::make_unique<Consumer>());
    for (int i = 0; i < threads; ++i)
      consumers_[i]->thread = std::thread([this, i, handler = handlers(i)] { run(i, handler); });
    // The factory's contract: throw when the broker cannot be reached in time.
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::nanoseconds(endpoint_.timeout_ns + kNanosPerSecond),
                 [&] { return first_results_ == threads; });
    if (!first_error_.empty() || first_results_ != threads) {
      std::string error = first_error_.empty() ? "rabbitmq: consumers did not connect in time" : first_error_;
      lock.unlock();
      stop();
      throw std::runtime_error(error);
    }
  }
  ~RabbitResponder() override { stop(); }

  void stop() override {
    stopping_.store(true);
    for (auto& c : consumers_) {
      c->wake.notify();
      if (c->thread.joinable()) c->thread.join();
    }
  }

  // Returns once every consumer has applied it (consumer cancelled / consuming again), bounded by
  // endpoint.timeout_ns. Pausing cancels the consumer (basic.cancel): deliveries already on their
  // way are still handled and acked, nothing new arrives, so the request queue fills up to its
  // bound and further publishes are nacked. (Merely not reading would leave up to `prefetch`
  // messages per consumer unacknowledged, outside the queue's x-max-length count.)
  void pause(bool paused) override {
    paused_.store(paused);
    for (auto& c : consumers_) c->wake.notify();
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::nanoseconds(endpoint_.timeout_ns), [&] {
      return std::all_of(consumers_.begin(), consumers_.end(),
                         [&](auto& c) { return c->paused_applied.load() == paused; });
    });
  }

  Stats stats() const override {
    return Stats{consumed_.load(), replied_.load(), redelivered_.load(), reply_failures_.load()};
  }

 private:
  struct Consumer {
    std::thread thread;
    Wakeup wake;
    std::atomic<bool> paused_applied{false};
  };

  void report_first(const std::string& error) {
    std::lock_guard lock(mutex_);
    if (!error.empty() && first_error_.empty()) first_error_ = error;
    ++first_results_;
    cv_.notify_all();
  }
  void report_paused(Consumer& c, bool paused) {
    if (c.paused_applied.load() == paused) return;
    std::lock_guard lock(mutex_);
    c.paused_applied.store(paused);
    cv_.notify_all();
  }

  void run(int index, const Handler& handler) {
    name_this_thread(detail::thread_name(worker_id_, fmt::format("amqp{}", index)));
    Consumer& me = *consumers_[index];
    Nanos backoff_ns = 100 * kNanosPerMilli;
    bool first = true;
    std::unique_ptr<AmqpConnection> connection;
    bool consuming = false;
    while (!stopping_.load()) {
      if (!connection) {
        try {
          connection = std::make_unique<AmqpConnection>(endpoint_);
          amqp_connection_state_t s = connection->state();
          connection->declare_request_queue(endpoint_);
          amqp_basic_qos(s, kChannel, 0, static_cast<std::uint16_t>(std::clamp(endpoint_.prefetch, 1, 65535)), 0);
          connection->check_rpc("basic.qos");
          consuming = false;
          backoff_ns = 100 * kNanosPerMilli;
          if (first) report_first({});
        } catch (const std::exception& e) {
          connection.reset();
          report_paused(me, paused_.load());  // not consuming either way
          if (first) {
            report_first(e.what());
            return;  // the constructor throws
          }
          // Lost the broker: back off (interruptibly) and try again.
          me.wake.wait(backoff_ns);
          backoff_ns = std::min(backoff_ns * 2, kMaxBackoffNs);
          continue;
        }
        first = false;
      }
      if (!step(*connection, me, handler, consuming)) {
        connection->mark_broken();
        connection.reset();
        me.wake.wait(backoff_ns);
      }
    }
  }

  // One round: apply pause, wait for input, handle what arrived. false when the connection broke.
  bool step(AmqpConnection& connection, Consumer& me, const Handler& handler, bool& consuming) {
    amqp_connection_state_t s = connection.state();
    const bool want_paused = paused_.load();
    if (want_paused && consuming) {
      amqp_basic_cancel(s, kChannel, amqp_cstring_bytes(consumer_tag_));
      if (amqp_get_rpc_reply(s).reply_type != AMQP_RESPONSE_NORMAL) return false;
      consuming = false;
    } else if (!want_paused && !consuming) {
      amqp_basic_consume(s, kChannel, amqp_cstring_bytes(endpoint_.request_queue.c_str()),
                         amqp_cstring_bytes(consumer_tag_), 0, /*no_ack=*/0, 0, amqp_empty_table);
      if (amqp_get_rpc_reply(s).reply_type != AMQP_RESPONSE_NORMAL) return false;
      consuming = true;
    }
    // Applied now (not after the idle wait below, which the pause's own wake-up no longer cuts).
    report_paused(me, !consuming);
    connection.wait(me.wake, idle_wait_ns(connection));
    for (;;) {
      // Every ack lets the broker send the next delivery, so this loop could run for as long as
      // the queue has messages: look at stop and pause between deliveries. On stop the
      // connection closes with the rest unacknowledged, and the broker redelivers them.
      if (stopping_.load() || paused_.load() != want_paused) break;
      amqp_frame_t frame;
      int rc = connection.next_frame(frame);
      if (rc == AMQP_STATUS_TIMEOUT) break;
      if (rc != AMQP_STATUS_OK) return false;
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      switch (frame.payload.method.id) {
        case AMQP_BASIC_DELIVER_METHOD: {
          auto* d = static_cast<amqp_basic_deliver_t*>(frame.payload.method.decoded);
          const std::uint64_t tag = d->delivery_tag;
          const bool redelivered = d->redelivered;
          amqp_message_t message;
          if (amqp_read_message(s, frame.channel, &message, 0).reply_type != AMQP_RESPONSE_NORMAL) return false;
          consumed_.fetch_add(1, std::memory_order_relaxed);
          if (redelivered) redelivered_.fetch_add(1, std::memory_order_relaxed);
          std::string reply = handler(std::string_view(static_cast<const char*>(message.body.bytes), message.body.len));
          const amqp_basic_properties_t& in = message.properties;
          bool publish_ok = false;
          if (in._flags & AMQP_BASIC_REPLY_TO_FLAG) {
            amqp_basic_properties_t out{};
            out._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
            out.delivery_mode = 1;
            if (in._flags & AMQP_BASIC_CORRELATION_ID_FLAG) {
              out._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
              out.correlation_id = in.correlation_id;
            }
            publish_ok = amqp_basic_publish(s, kChannel, amqp_empty_bytes, in.reply_to, 0, 0, &out,
                                            amqp_bytes_t{reply.size(), reply.data()}) == AMQP_STATUS_OK;
          }
          amqp_destroy_message(&message);
          if (publish_ok) replied_.fetch_add(1, std::memory_order_relaxed);
          else if (!endpoint_.one_way) reply_failures_.fetch_add(1, std::memory_order_relaxed);
          // Ack after the reply is out: a crash in between means a redelivery and a duplicate
          // reply (which the requester counts), never a lost request.
          if (amqp_basic_ack(s, kChannel, tag, 0) != AMQP_STATUS_OK) return false;
          break;
        }
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD:
          return false;
        case AMQP_BASIC_CANCEL_METHOD:  // the server cancelled us (queue deleted): consume again
          consuming = false;
          break;
        default: break;
      }
    }
    amqp_maybe_release_buffers(s);
    report_paused(me, !consuming);
    return true;
  }

  const Endpoint endpoint_;
  const std::string worker_id_;
  static constexpr const char* consumer_tag_ = "pathbench";
  std::vector<std::unique_ptr<Consumer>> consumers_;
  std::atomic<bool> stopping_{false}, paused_{false};
  std::atomic<std::uint64_t> consumed_{0}, replied_{0}, redelivered_{0}, reply_failures_{0};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  int first_results_ = 0;      // guarded by mutex_
  std::string first_error_;    // guarded by mutex_
};

}  // namespace

std::unique_ptr<Requester> make_rabbitmq_requester(const Endpoint& endpoint, boost::asio::io_context& io,
                                                   Requester::OnReply on_reply, int index) {
  return std::make_unique<RabbitRequester>(endpoint, io, std::move(on_reply), index);
}

std::unique_ptr<Responder> make_rabbitmq_responder(const Endpoint& endpoint, int threads,
                                                   Responder::HandlerFactory handlers, std::string worker_id) {
  return std::make_unique<RabbitResponder>(endpoint, threads, std::move(handlers), std::move(worker_id));
}

}  // namespace pathbench::mq
