// The queue path's view of a message broker, whatever the broker is: a client publishes a
// request with reply-to and correlation id and matches the replies; workers consume requests
// as competing consumers and publish replies. One interface, three implementations:
//   embedded  — pathbench's own broker (src/broker) over its native protocol (docs/broker-protocol.md)
//   rabbitmq  — AMQP 0-9-1 through rabbitmq-c
//   nats      — NATS request/reply through nats.c, workers in a queue group
// The load generator sees only Requester (through paths/queue.cpp); the worker side sees only
// Responder (through runner/topology). Bodies are opaque bytes here: the path puts a serialized
// v1::QueryRequest in and gets a serialized v1::QueryReply back.
#pragma once
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/outcome.h"
#include "core/tls_config.h"

namespace pathbench::mq {

// Where the broker is and how the request queue is set up (from the scenario's [broker] table,
// with url resolved: "auto" has already been replaced by the address of the server pathbench
// started, see mq/server_process.h).
struct Endpoint {
  std::string kind = "embedded";  // "embedded" | "rabbitmq" | "nats"
  // embedded: "tcp://127.0.0.1:PORT"; rabbitmq: "amqp://user:pass@host:port/vhost";
  // nats: "nats://host:port"
  std::string url;
  std::string request_queue = "pathbench.requests";
  int max_pending = 10000;    // request queue bound: publishes beyond it are rejected, never dropped
  int prefetch = 16;          // unacknowledged deliveries per consumer
  Nanos timeout_ns = 5 * kNanosPerSecond;  // bound on every blocking wait (connect, confirm, ...)
  Nanos heartbeat_ns = 10 * kNanosPerSecond;  // rabbitmq heartbeats (0 = off)
  bool direct_reply_to = false;  // rabbitmq: amq.rabbitmq.reply-to instead of a reply queue per connection
  // One-way messaging (paths/messaging.h): the Requester publishes with no reply-to and its
  // on_reply(id, ok, "") means "the broker confirmed it" (embedded: the native confirm; rabbitmq:
  // publisher confirm; nats: accepted by the client library — core NATS has no broker ack); the
  // Responder's handler runs, its return value is dropped (no reply), then the message is acked.
  bool one_way = false;
  // With one_way: rabbitmq — durable queue + persistent messages (the confirm comes once the
  // message is on disk); nats — JetStream with file storage (mq/jetstream.cpp) instead of core
  // NATS. Not applicable to the embedded broker (in memory).
  bool durable = false;
  // TLS on the link to the broker (docs/distributed.md, "TLS and authentication"): the CA the
  // broker's certificate must chain to, and this end's cert + key (mutual TLS). nats: used when
  // the URL is tls:// or any file is named (then nats:// is upgraded too); the name checked in the
  // broker's certificate is server_name, else the URL's host when it is a name (an IP address:
  // the chain alone). Empty with a nats:// URL: plaintext.
  TlsFiles tls;
};

// Client side: one per load-generator client thread (`index` = the thread's index, for naming).
// Every member is called on `io`'s thread, and every callback runs on it too (implementations
// whose library calls back on its own threads post to `io`).
class Requester {
 public:
  // How one request ended. `body` is the reply body when outcome == ok, else empty.
  // rejected: the broker refused the publish (queue full / nack / x-overflow reject-publish);
  // unavailable: not connected; transport_error: the connection broke with the request out;
  // server_error: the broker returned it unroutable.
  using OnReply = std::function<void(std::uint64_t correlation_id, Outcome outcome, std::string_view body)>;

  virtual ~Requester() = default;
  // Connect and set up the reply queue. Calls done("") or done(reason) exactly once, within
  // endpoint.timeout_ns.
  virtual void start(std::function<void(std::string)> done) = 0;
  // Publish `body` to the request queue with reply-to = this requester's reply address and this
  // correlation id. Never blocks. Exactly one on_reply per request, except that a reply arriving
  // for a correlation id that was already answered (a duplicate) is dropped and counted in
  // duplicates(); the load generator times requests out on its own.
  virtual void request(std::uint64_t correlation_id, std::string_view body) = 0;
  // Close the connection; no on_reply after this returns.
  virtual void stop() = 0;
  virtual std::uint64_t duplicates() const noexcept = 0;
};

// Worker side: `threads` consumer threads (or the library's callback threads), each with its own
// connection where the broker needs it, consuming the request queue as competing consumers with
// `prefetch` credit and manual acks, calling the handler, publishing its return value to the
// message's reply-to with the same correlation id, then acknowledging.
class Responder {
 public:
  // Runs on a consumer thread; returns the reply body. Each thread gets its own Handler from
  // the factory (so it can own a database connection).
  using Handler = std::function<std::string(std::string_view request_body)>;
  using HandlerFactory = std::function<Handler(int thread_index)>;

  struct Stats {
    std::uint64_t consumed = 0, replied = 0, redelivered = 0, reply_failures = 0;
  };

  virtual ~Responder() = default;
  // Stops consuming (unacknowledged messages go back to the broker), joins its threads.
  // Idempotent. The destructor calls it.
  virtual void stop() = 0;
  // Fault injection: stop taking new deliveries (true) / take them again (false). Thread-safe.
  virtual void pause(bool paused) = 0;
  virtual Stats stats() const = 0;
};

// Factories (mq/mq.cpp dispatches on endpoint.kind). Throw std::runtime_error with the reason
// (e.g. "rabbitmq at amqp://...: connection refused") when they cannot connect in time.
std::unique_ptr<Requester> make_requester(const Endpoint& endpoint, boost::asio::io_context& io,
                                          Requester::OnReply on_reply, int index);
std::unique_ptr<Responder> make_responder(const Endpoint& endpoint, int threads, Responder::HandlerFactory handlers,
                                          std::string worker_id);

}  // namespace pathbench::mq
