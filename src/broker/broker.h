// The embedded message broker's core: transport-free, shared by the native TCP server
// (broker/native_server.h) and any later front (gRPC, WebSocket, HTTP), which are thin adapters
// over this class.
//
// Two models, as in the seeds:
//  * Queues (RabbitMQ / QuickPulse): named, bounded by max_pending ready messages. A publish
//    beyond the bound is refused with Status::overflow (never drop-head, never silent loss) and
//    the caller is told at once (a publish confirm). Competing consumers with prefetch (credit)
//    and manual acks; nack(requeue) and cancel put unacknowledged messages back at the head of
//    the queue flagged `redelivered`. Pull-style get/try_get dequeue one message (auto-ack), the
//    QuickPulse Consume. Request/reply: a client declares an exclusive reply queue (deleted when
//    its session closes) and publishes with reply_to + correlation_id; the consumer publishes
//    the reply to reply_to.
//  * Subjects (GopherMQ): subscribe(subject) -> subscriber id; publish fans a copy out to every
//    subscriber's pending list (Status::no_subscriber when there is none, Status::overflow when
//    any list is at max_pending: then nobody gets it); fetch drains one subscriber's list.
//
// Sessions: every front opens one session per client connection and closes it when the
// connection goes away; close_session() cancels the session's consumers (their unacknowledged
// messages are redelivered) and deletes its exclusive queues.
//
// Threads: every member function is thread-safe. Each queue has its own mutex; the broker-wide
// maps (queues, sessions, subjects) sit behind a shared mutex taken briefly for lookups.
// Delivery callbacks (see DeliveryCallback) run with NO broker lock held.
//
// Units: times are steady_clock nanoseconds (core/clock.h).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/histogram.h"

namespace pathbench::broker {

// The result of every operation; the native protocol sends these codes on the wire (confirms and
// errors), so values are fixed (docs/broker-protocol.md).
enum class Status : std::uint8_t {
  ok = 0,                    // a publish: accepted
  overflow = 1,              // the queue (or a subscriber's list) is at max_pending: refused
  no_queue = 2,              // no queue by that name
  no_subscriber = 3,         // publish to a subject nobody subscribes to / fetch with an unknown id
  empty = 4,                 // get/try_get: nothing ready
  precondition_failed = 5,   // declare: the queue exists with other settings; bad argument values
  unknown_consumer = 6,      // cancel/ack/nack of a consumer that is not (or no longer) active
  unknown_delivery_tag = 7,  // ack/nack of a tag not outstanding on that consumer (late or doubled)
  malformed = 8,             // protocol only: a frame that cannot be decoded (connection closed)
  too_large = 9,             // protocol only: a frame longer than the limit (connection closed)
};
inline constexpr std::uint8_t kMaxStatusCode = 9;
std::string_view to_string(Status status) noexcept;

// A message as published. message_id and published_ns are set by the broker.
struct Message {
  std::string body;
  std::string reply_to;             // queue name for replies ("" = none)
  std::uint64_t correlation_id = 0;
  std::uint64_t message_id = 0;     // unique per broker, assigned at publish
  Nanos published_ns = 0;           // steady clock, at publish
};
using MessagePtr = std::shared_ptr<const Message>;  // shared by redeliveries and fan-out copies

// One delivery to a consumer. The tag is unique within the queue; ack/nack name it.
struct Delivery {
  std::uint64_t delivery_tag = 0;
  bool redelivered = false;
  MessagePtr message;
};

using SessionId = std::uint64_t;  // 0 = no session (not tied to a connection)

class Consumer;  // opaque; created by consume(), passed back to ack/nack/cancel
using ConsumerPtr = std::shared_ptr<Consumer>;

// Called for every delivery to a consumer, with no broker lock held, on whichever thread caused
// it (a publisher, an acker, a resume, consume() itself). It must not block: post the delivery
// to the consumer's executor and return. It may be invoked concurrently for one consumer from
// several threads, so deliveries may reach it out of tag order; and it may still be invoked
// shortly after cancel()/close_session() returned for deliveries handed out just before — those
// messages have already been requeued, so the callback's owner should drop them (the native
// server checks that the consumer is still registered on the connection's strand). It may call
// back into the broker (ack from inside the callback is fine).
using DeliveryCallback = std::function<void(const ConsumerPtr& consumer, Delivery delivery)>;

struct BrokerOptions {
  int default_max_pending = 10000;  // declare() with max_pending 0, and every subject subscriber's list
};

struct QueueOptions {
  int max_pending = 0;          // ready messages beyond which publishes are refused; 0 = broker default
  SessionId exclusive_owner = 0;  // != 0: deleted when that session closes
};

struct ConsumeOptions {
  int prefetch = 16;           // unacknowledged deliveries at most (1..65535); ignored with auto_ack
  bool auto_ack = false;       // acknowledged on delivery (no credit limit, never redelivered)
  SessionId session = 0;       // close_session(session) cancels it
};

// Per-queue counters since the queue was declared, consistent with each other (one snapshot under
// the queue's lock). Invariants (tests/test_broker.cpp):
//   enqueued  == acked + discarded + depth + unacked
//   delivered == acked + redelivered + discarded + unacked
// (every delivery ends acked, requeued or discarded, or is still out; gets and auto-acks count as
// delivered and acked at once; a requeued message is delivered again and counted again).
struct QueueStats {
  std::string name;
  std::uint64_t depth = 0;        // ready, not yet delivered
  std::uint64_t unacked = 0;      // delivered, awaiting ack
  std::uint64_t consumers = 0;
  std::uint64_t enqueued = 0;     // publishes accepted
  std::uint64_t rejected = 0;     // publishes refused with overflow
  std::uint64_t delivered = 0;    // deliveries handed out (consumers and gets), redeliveries included
  std::uint64_t acked = 0;        // explicit acks, auto-acks and gets
  std::uint64_t redelivered = 0;  // messages put back (cancel, session close, nack with requeue)
  std::uint64_t discarded = 0;    // nack without requeue, and what a deleted queue held
  bool paused = false;
  Histogram publish_to_delivery_ns;  // publish -> first or repeated delivery, ns
};

struct SubjectStats {
  std::string subject;
  std::uint64_t subscribers = 0, pending = 0, published = 0, rejected = 0, fetched = 0;
};

struct BrokerStats {
  std::vector<QueueStats> queues;      // sorted by name
  std::vector<SubjectStats> subjects;  // sorted by subject
  std::uint64_t no_queue = 0;          // publishes to an unknown queue
  std::uint64_t no_subscriber = 0;     // publishes to a subject nobody subscribes to
};

class Broker {
 public:
  explicit Broker(const BrokerOptions& options = {});
  ~Broker();  // cancels every consumer (no callback runs after it returns from another thread's call)
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  int default_max_pending() const noexcept { return options_.default_max_pending; }

  // --- sessions
  SessionId open_session();
  // Cancels the session's consumers (unacked -> redelivered) and deletes its exclusive queues.
  void close_session(SessionId session);

  // --- queues
  // Creates the queue, or returns ok when it exists with the same max_pending and owner;
  // precondition_failed when it exists otherwise or max_pending < 0.
  Status declare(std::string_view queue, const QueueOptions& options = {});
  // Deletes it: its consumers are cancelled, its ready and unacked messages discarded.
  Status delete_queue(std::string_view queue);
  // ok (accepted), overflow or no_queue. Fills message_id and published_ns. May run delivery
  // callbacks on this thread before it returns.
  Status publish(std::string_view queue, Message message);
  // Registers a competing consumer; deliveries start at once (the callback may run before
  // consume() returns, from this thread). no_queue / precondition_failed (prefetch out of range).
  Status consume(std::string_view queue, const ConsumeOptions& options, DeliveryCallback callback,
                 ConsumerPtr& consumer_out);
  Status ack(Consumer& consumer, std::uint64_t delivery_tag);
  // requeue: back to the head of the queue, flagged redelivered; else discarded (counted).
  Status nack(Consumer& consumer, std::uint64_t delivery_tag, bool requeue);
  // Stops deliveries and requeues its unacknowledged messages (redelivered). unknown_consumer
  // when it was already cancelled.
  Status cancel(Consumer& consumer);
  // Pull: one ready message, auto-acknowledged (ok / empty / no_queue). try_get never waits;
  // get waits up to timeout_ns (clamped to 0 .. 24 h) for a message.
  Status try_get(std::string_view queue, Delivery& out);
  Status get(std::string_view queue, Nanos timeout_ns, Delivery& out);
  // Fault `pause_consumers`: publishes are still accepted up to max_pending, nothing is delivered
  // (to consumers or gets) until resumed; resume delivers the backlog at once.
  Status set_paused(std::string_view queue, bool paused);

  // --- subjects
  Status subscribe(std::string_view subject, std::uint64_t& subscriber_id_out);
  Status unsubscribe(std::string_view subject, std::uint64_t subscriber_id);
  // ok, no_subscriber or overflow (all or nothing). Fills message_id and published_ns.
  Status publish_subject(std::string_view subject, Message message);
  // Moves up to max_messages pending messages (oldest first) into out; no_subscriber when
  // the subject or id is unknown.
  Status fetch(std::string_view subject, std::uint64_t subscriber_id, std::vector<MessagePtr>& out,
               std::size_t max_messages = SIZE_MAX);

  // --- instrumentation
  BrokerStats stats() const;
  // One queue (no_queue when it does not exist).
  Status queue_stats(std::string_view queue, QueueStats& out) const;

  struct Queue;    // defined in broker.cpp
  struct Subject;  // defined in broker.cpp

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::shared_ptr<Queue> find_queue(std::string_view name) const;

  BrokerOptions options_;
  mutable std::shared_mutex maps_mutex_;  // guards the maps below, never held while a queue is locked
  std::unordered_map<std::string, std::shared_ptr<Queue>, StringHash, std::equal_to<>> queues_;
  std::unordered_map<SessionId, std::vector<std::weak_ptr<Consumer>>> session_consumers_;
  std::unordered_map<SessionId, std::vector<std::string>> session_queues_;
  SessionId next_session_ = 1;
  std::uint64_t next_consumer_id_ = 1;

  mutable std::mutex subjects_mutex_;  // subjects are the GopherMQ HTTP model: not a hot path
  std::unordered_map<std::string, std::shared_ptr<Subject>, StringHash, std::equal_to<>> subjects_;
  std::uint64_t next_subscriber_id_ = 1;

  std::atomic<std::uint64_t> next_message_id_{1};
  std::atomic<std::uint64_t> no_queue_{0};
  std::atomic<std::uint64_t> no_subscriber_{0};
};

// A consumer's identity, for fronts that keep a table of them. Everything else is private to
// the broker.
std::uint64_t consumer_id(const Consumer& consumer) noexcept;

}  // namespace pathbench::broker
