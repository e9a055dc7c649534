// The servers of one run, shared by its paths: workers and the balancer, spawned in-process
// on loopback the first time a path needs them (or reached at external endpoints when the
// scenario names them), and stopped — balancer first, then workers — when the run ends.
// Called from the runner's thread only.
#pragma once
#include <memory>
#include <string>
#include <vector>

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

  // The in-process servers (empty / null when external or not started).
  const std::vector<std::unique_ptr<WorkerServer>>& workers() const noexcept { return workers_; }
  BalancerServer* balancer() const noexcept { return balancer_.get(); }

 private:
  const Scenario& scenario_;
  std::vector<std::unique_ptr<WorkerServer>> workers_;
  std::vector<std::string> worker_addresses_;
  std::unique_ptr<BalancerServer> balancer_;
  std::string balancer_address_;
};

}  // namespace pathbench
