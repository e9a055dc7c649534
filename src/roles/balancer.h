// The balancer role: a gRPC front (service pathbench.v1.Worker, unary and streaming) that
// forwards every request to one of the workers chosen by BalancerCore (least outstanding,
// p2c or round robin), with active health checks (grpc.health.v1), passive ejection,
// admission control (RESOURCE_EXHAUSTED beyond max_pending, counted) and deadlines on every
// forwarded call. Registers grpc.health.v1 and reflection itself.
//
// A WebSocket front (roles/balancer_ws.h) shares the same BalancerCore and counters, so both
// fronts see one routing, one set of health verdicts and one admission limit.
//
// Threads: gRPC's threads carry the calls (callback API, no thread per request); one named
// thread "pb-bal-health" runs the health checks. The destructor shuts the server down and
// joins that thread.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/tls_config.h"
#include "roles/balancer_core.h"

namespace pathbench {

struct BalancerOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 = a free port
  std::vector<std::string> workers;    // "host:port" of each worker
  BalancerPolicyConfig routing;
  Nanos health_interval_ns = 1 * kNanosPerSecond;
  Nanos health_timeout_ns = 500 * kNanosPerMilli;
  Nanos default_deadline_ns = 2 * kNanosPerSecond;  // for calls that arrive without one
  int streams_per_worker = 2;  // balancer -> worker streams (gRPC) and connections (WebSocket) per worker
  // The WebSocket front (roles/balancer_ws.h): where it listens ("" = none) and each worker's
  // WebSocket address, in the order of `workers`.
  std::string ws_listen = "127.0.0.1:0";
  std::vector<std::string> worker_ws;
  // Mutual TLS (core/tls_config.h) on its gRPC server and its channels to the workers (the same
  // identity both ways); nullptr = plaintext.
  std::shared_ptr<const TlsMaterial> tls;
};

struct BalancerStats {
  std::uint64_t received = 0, forwarded = 0, rejected = 0, unavailable = 0;
  std::vector<BackendSnapshot> backends;
};

class BalancerServer {
 public:
  // Throws std::runtime_error when it cannot listen.
  explicit BalancerServer(const BalancerOptions& options);
  ~BalancerServer();
  BalancerServer(const BalancerServer&) = delete;
  BalancerServer& operator=(const BalancerServer&) = delete;

  std::string address() const;
  std::string ws_address() const;  // "" without a WebSocket front
  BalancerStats stats() const;

  struct Impl;  // defined in roles/balancer_impl.h; public only so its helper classes can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathbench
