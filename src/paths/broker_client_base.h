// What the broker path's front clients share (paths/broker_native, broker_grpc_unary,
// broker_grpc_stream, broker_websocket, broker_http — one file pair and one registry row each).
//
// The broker workload as a path (issue 5 §5): each request publishes one message through one of
// the embedded broker's fronts and completes when that message comes back out, consumed by the
// same client thread through the same front — so latency is publish -> consume end to end,
// achieved rate = consume rate, offered = publish rate. A refused publish (overflow) completes
// as `rejected`. docs/broker-fronts.md describes each front's wire.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/tls_config.h"
#include "measure/path_client.h"
#include "wire/query_codec.h"  // wire_id, slot_of, id_of: a body carries its request's wire id

namespace pathbench {

// Empty-queue polling (grpc_unary, websocket, http): a short pause before asking again.
inline constexpr Nanos kBrokerPollBackoffNs = 200 * kNanosPerMicro;

// A message body: the wire id as 20 decimal digits, then 'x' up to message_bytes — plain ASCII,
// so it travels unchanged as a protobuf bytes field, a WebSocket frame and a JSON string.
std::string make_broker_body(std::uint64_t wire, std::size_t message_bytes);
// The wire id at the start of a body made by make_broker_body; false when there is none.
bool parse_broker_body(std::string_view body, std::uint64_t& wire) noexcept;

struct BrokerClientSettings {
  std::string queue;  // this thread's queue (or subject): "bench-<label>-<thread>"
  std::size_t message_bytes = 64;
  Nanos deadline_ns = 0;
  int producers = 1, consumers = 1;  // publishing / consuming connections (fronts that have both)
  bool publish_async = false;        // http: /api/publish/async
  // The front speaks mutual TLS (native tcps://, wss://, https://): this client's identity
  // (net::client_tls(), the scenario's [tls] for the load's clients). nullptr: plaintext. gRPC
  // channels take theirs from paths/grpc_common.h.
  std::shared_ptr<const TlsMaterial> tls;
};

// What every front's client shares: which requests are out (to fail them when a connection
// breaks), completion by the id carried in a body, and a bounded start. Client thread only.
class BrokerClientBase : public PathClient {
 protected:
  BrokerClientBase(boost::asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings);

  // `id` is out on `slot` (fail_all will end it unless finish() does first).
  void track(std::uint32_t slot, std::uint64_t id);
  // Completes one request (exactly once: the caller knows it is still out).
  void finish(std::uint32_t slot, std::uint64_t id, Outcome outcome);
  // A consumed body completes its request as ok; a body that is not ours is ignored.
  void finish_body(std::string_view body);
  // Every request still out fails with `outcome` (a broken connection).
  void fail_all(Outcome outcome);
  // start(): `done` runs once, with finish_start's reason, or "<what> timed out" at the deadline.
  void begin_start(std::function<void(std::string)> done, std::string what);
  void finish_start(std::string error);

  boost::asio::io_context& io_;
  CompletionSink& sink_;
  BrokerClientSettings s_;
  boost::asio::steady_timer start_timer_;
  std::function<void(std::string)> start_done_;
  std::vector<std::uint64_t> out_;  // slot -> request id + 1 while out, 0 otherwise
  bool stopped_ = false;
};

// A broker route's PathInstance: per client thread, `make` builds the front's client from the
// thread's settings and the front's "host:port".
class BrokerFrontInstance final : public PathInstance {
 public:
  using MakeClient = std::unique_ptr<PathClient> (*)(boost::asio::io_context& io, CompletionSink& sink,
                                                     BrokerClientSettings settings, const std::string& address,
                                                     int thread_index);
  // `endpoint` is what endpoint() reports (e.g. "tcp://127.0.0.1:5673"); `tls`: the front speaks
  // TLS, the clients present net::client_tls().
  BrokerFrontInstance(const Scenario& scenario, const PathSpec& spec, std::string address, std::string endpoint,
                      MakeClient make, bool tls = false);

  std::unique_ptr<PathClient> make_client(boost::asio::io_context& io, CompletionSink& sink, int thread_index) override;
  std::string endpoint() const override { return endpoint_; }

 private:
  const Scenario& scenario_;
  const PathSpec& spec_;
  std::string address_, endpoint_;
  MakeClient make_;
  std::shared_ptr<const TlsMaterial> tls_;
};

}  // namespace pathbench
