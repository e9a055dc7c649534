// The balancer's WebSocket front: clients send QueryRequests as binary WebSocket messages
// (ws://HOST:PORT/query, as on a worker) and get QueryReplies with a status; each request is
// routed by the balancer's one BalancerCore (the gRPC front's routing, health checks, ejection
// and admission — not a copy) and forwarded to the chosen worker's WebSocket front over a few
// long-lived balancer -> worker connections per worker, request ids remapped.
//
// Threads: the client-facing server runs on one io thread "pb-bal-ws"; the connections to the
// workers on one io thread "pb-bal-wsb", which alone owns the table of forwarded requests (no
// lock). A broken worker connection fails only what was on it (UNAVAILABLE, a transport failure
// for the core) and is re-established with backoff; requests past their budget are answered
// DEADLINE_EXCEEDED by a 50 ms sweep; a request that finds no open connection to its worker is
// routed once more elsewhere.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tls_config.h"
#include "roles/balancer_core.h"
#include "roles/forward_table.h"

namespace pathbench {

struct BalancerWsOptions {
  std::string listen = "127.0.0.1:0";
  std::vector<std::string> worker_ws;  // each worker's WebSocket front, in the core's backend order
  int connections_per_worker = 2;
  Nanos default_deadline_ns = 2 * kNanosPerSecond;  // for requests without timeout_ns
  std::size_t max_message_bytes = 1 << 20;
  // Mutual TLS (wss://) on the front and on its connections to the workers' fronts, with the same
  // identity (as the balancer's gRPC server and channels); nullptr = plaintext.
  std::shared_ptr<const TlsMaterial> tls;
};

class BalancerWsFront {
 public:
  // Listens at once (throws std::runtime_error when it cannot); connects to the workers in the
  // background. `core` and `counters` must outlive the front.
  BalancerWsFront(const BalancerWsOptions& options, BalancerCore& core, BalancerCounters& counters);
  ~BalancerWsFront();  // closes client connections, fails what is pending, joins both threads
  BalancerWsFront(const BalancerWsFront&) = delete;
  BalancerWsFront& operator=(const BalancerWsFront&) = delete;

  std::string address() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathbench
