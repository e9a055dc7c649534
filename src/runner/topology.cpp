#include "runner/topology.h"

#include <fmt/format.h>

namespace pathbench {

Topology::Topology(const Scenario& scenario) : scenario_(scenario) {}

Topology::~Topology() {
  balancer_.reset();  // stop routing before the workers go away
  workers_.clear();
}

const std::vector<std::string>& Topology::worker_addresses() {
  if (!worker_addresses_.empty()) return worker_addresses_;
  if (!scenario_.workers.endpoints.empty()) {
    worker_addresses_ = scenario_.workers.endpoints;
    return worker_addresses_;
  }
  for (int i = 0; i < scenario_.workers.count; ++i) {
    WorkerOptions o;
    o.id = fmt::format("worker-{}", i);
    o.listen = scenario_.workers.listen_host + ":0";
    o.db_path = scenario_.database.path;
    o.threads = scenario_.workers.threads;
    o.max_queue = scenario_.workers.max_queue;
    workers_.push_back(std::make_unique<WorkerServer>(o));
  }
  for (auto& w : workers_) worker_addresses_.push_back(w->address());
  return worker_addresses_;
}

const std::string& Topology::balancer_address() {
  if (!balancer_address_.empty()) return balancer_address_;
  if (!scenario_.balancer.endpoint.empty()) {
    balancer_address_ = scenario_.balancer.endpoint;
    return balancer_address_;
  }
  BalancerOptions o;
  o.listen = scenario_.balancer.listen_host + ":0";
  o.workers = worker_addresses();
  o.routing = scenario_.balancer.routing;
  o.health_interval_ns = scenario_.balancer.health_interval_ns;
  o.health_timeout_ns = scenario_.balancer.health_timeout_ns;
  o.default_deadline_ns = scenario_.load.deadline_ns;
  balancer_ = std::make_unique<BalancerServer>(o);
  balancer_address_ = balancer_->address();
  return balancer_address_;
}

}  // namespace pathbench
