// The servers of one run, shared by its paths: workers and the balancer, spawned in-process
// on loopback the first time a path needs them (or reached at external endpoints when the
// scenario names them), and stopped — balancer first, then workers — when the run ends.
// Called from the runner's thread only.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/broker_server.h"
#include "roles/balancer.h"
#include "roles/worker.h"
#include "scenario/scenario.h"

namespace pathbench {

class Topology {
 public:
  explicit Topology(const Scenario& scenario);
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  // "host:port" of every worker. Throws std::runtime_error when one cannot start.
  const std::vector<std::string>& worker_addresses();
  // "host:port" of the balancer (starts the workers too). Throws std::runtime_error.
  const std::string& balancer_address();
  // The same for their WebSocket fronts (external ones: [workers] ws_endpoints, [balancer]
  // ws_endpoint; a scenario that reaches external roles without them cannot use WebSocket).
  const std::vector<std::string>& worker_ws_addresses();
  const std::string& balancer_ws_address();

  // Faults on spawned worker `index` (thread-safe against the servers, called from the
  // runner's fault thread). kill: the worker drains nothing — it goes away at once, its address
  // kept; restart: a new worker on the same address; slow: add `delay_ns` per query.
  // restore(): every worker back up and at normal speed (between paths).
  // Each returns false when there is no such spawned worker (none started in this run).
  bool kill_worker(int index);
  bool restart_worker(int index);
  bool slow_worker(int index, Nanos delay_ns);
  void restore();

  // The run's embedded broker (broker/broker_server.h), started on first use with every front
  // on loopback (native, gRPC MessageQueue, HTTP+WebSocket; ports chosen by the system) and
  // default options; shared by every path of the run that needs a broker. Stopped after the
  // balancer and the workers' users are gone (first in ~Topology). Throws std::runtime_error.
  broker::BrokerServer& broker_server();

  // The spawned workers' counters (id, stats), for metrics; thread-safe. Killed ones are left out.
  std::vector<std::pair<std::string, WorkerStats>> worker_stats() const;
  BalancerServer* balancer() const noexcept { return balancer_.get(); }

 private:
  const Scenario& scenario_;
  WorkerOptions worker_options(int index) const;
  mutable std::mutex mutex_;  // guards workers_ against faults and metrics scrapes
  std::vector<std::unique_ptr<WorkerServer>> workers_;  // null while killed
  std::vector<std::string> worker_addresses_;
  std::vector<std::string> worker_ws_addresses_;
  std::unique_ptr<BalancerServer> balancer_;
  std::string balancer_address_;
  std::string balancer_ws_address_;
  std::unique_ptr<broker::BrokerServer> broker_;
};

}  // namespace pathbench
