#include "runner/topology.h"

#include "core/url.h"
#include "roles/task_engine.h"
#include "roles/task_queue_worker.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace pathbench {

Topology::Topology(const Scenario& scenario)
    : scenario_(scenario),
      worker_tls_(load_tls_material(scenario.tls.for_role("worker"))),
      balancer_tls_(load_tls_material(scenario.tls.for_role("balancer"))),
      broker_tls_(load_tls_material(scenario.tls.for_role("broker"))) {}

Topology::~Topology() {
  {
    std::lock_guard lock(mutex_);
    queue_workers_.clear();  // consumers first, while their brokers are still up
    task_queue_workers_.clear();
  }
  embedded_broker_.reset();
  broker_processes_.clear();
  balancer_view_.store(nullptr, std::memory_order_release);
  balancer_.reset();  // stop routing before the workers go away
  std::lock_guard lock(mutex_);
  workers_.clear();
}

const std::vector<std::string>& Topology::worker_addresses() {
  if (!worker_addresses_.empty()) return worker_addresses_;
  if (!scenario_.workers.endpoints.empty()) {
    worker_addresses_ = scenario_.workers.endpoints;
    return worker_addresses_;
  }
  std::lock_guard lock(mutex_);
  for (int i = 0; i < scenario_.workers.count; ++i) workers_.push_back(std::make_unique<WorkerServer>(worker_options(i)));
  for (auto& w : workers_) {
    worker_addresses_.push_back(w->address());
    worker_ws_addresses_.push_back(w->ws_address());
  }
  return worker_addresses_;
}

const std::vector<std::string>& Topology::worker_ws_addresses() {
  worker_addresses();
  if (!scenario_.workers.endpoints.empty()) {
    if (scenario_.workers.ws_endpoints.empty())
      throw std::runtime_error("the workers are external ([workers] endpoints) but [workers] ws_endpoints is not set: "
                               "a WebSocket path needs their WebSocket addresses");
    worker_ws_addresses_ = scenario_.workers.ws_endpoints;
  }
  return worker_ws_addresses_;
}

const std::string& Topology::balancer_ws_address() {
  balancer_address();
  if (!scenario_.balancer.endpoint.empty()) {
    if (scenario_.balancer.ws_endpoint.empty())
      throw std::runtime_error("the balancer is external ([balancer] endpoint) but [balancer] ws_endpoint is not set: "
                               "a WebSocket path needs its WebSocket address");
    balancer_ws_address_ = scenario_.balancer.ws_endpoint;
  }
  return balancer_ws_address_;
}

WorkerOptions Topology::worker_options(int index) const {
  WorkerOptions o;
  o.id = fmt::format("worker-{}", index);
  o.listen = static_cast<std::size_t>(index) < worker_addresses_.size() ? worker_addresses_[static_cast<std::size_t>(index)]
                                                                        : scenario_.workers.listen_host + ":0";
  o.ws_listen = static_cast<std::size_t>(index) < worker_ws_addresses_.size()
                    ? worker_ws_addresses_[static_cast<std::size_t>(index)]
                    : scenario_.workers.listen_host + ":0";
  o.db_path = scenario_.database.path;
  o.threads = scenario_.workers.threads;
  o.max_queue = scenario_.workers.max_queue;
  o.task_busy_timeout_ns = scenario_.task.busy_timeout_ns;
  o.tls = worker_tls_;
  o.task_durability = scenario_.database.durability;
  return o;
}

std::vector<std::size_t> Topology::queue_worker_slots(int index) const {
  std::vector<std::size_t> slots;
  const std::size_t stride = static_cast<std::size_t>(std::max(1, scenario_.workers.count));
  for (std::size_t j = static_cast<std::size_t>(std::max(0, index)); index >= 0 && j < queue_workers_.size(); j += stride)
    slots.push_back(j);
  return slots;
}

bool Topology::kill_worker(int index) {
  bool any = false;
  {
    std::lock_guard lock(targets_mutex_);
    for (auto* t : fault_targets_) any = t->kill_worker(index) || any;
  }
  std::lock_guard lock(mutex_);
  any = (index >= 0 && kill_task_queue_worker(static_cast<std::size_t>(index))) || any;
  // Its queue-path consumers go with it: what they held unacked the broker redelivers.
  for (std::size_t j : queue_worker_slots(index)) {
    queue_workers_[j].reset();
    any = true;
  }
  if (index < 0 || static_cast<std::size_t>(index) >= workers_.size()) return any;
  auto& w = workers_[static_cast<std::size_t>(index)];
  if (w) w->drain(0);  // no grace: the process "died"
  w.reset();
  return true;
}

bool Topology::restart_worker(int index) {
  bool any = false;
  {
    std::lock_guard lock(targets_mutex_);
    for (auto* t : fault_targets_) any = t->restart_worker(index) || any;
  }
  std::lock_guard lock(mutex_);
  any = (index >= 0 && restart_task_queue_worker(static_cast<std::size_t>(index))) || any;
  for (std::size_t j : queue_worker_slots(index)) {
    if (!queue_workers_[j]) {
      queue_workers_[j] = std::make_unique<QueueWorker>(queue_worker_options_[j]);
      if (queue_paused_) queue_workers_[j]->pause(true);
    }
    any = true;
  }
  if (index < 0 || static_cast<std::size_t>(index) >= workers_.size()) return any;
  auto& w = workers_[static_cast<std::size_t>(index)];
  if (!w) w = std::make_unique<WorkerServer>(worker_options(index));
  return true;
}

bool Topology::slow_worker(int index, Nanos delay_ns) {
  std::lock_guard lock(mutex_);
  if (index < 0 || static_cast<std::size_t>(index) >= workers_.size()) return false;
  auto& w = workers_[static_cast<std::size_t>(index)];
  if (w) w->set_added_delay(delay_ns);
  return true;
}

void Topology::restore() {
  // Every worker index any kind of worker has here: gRPC workers, queue and task-queue consumers.
  const std::size_t queue_count = queue_workers_.empty() ? 0 : static_cast<std::size_t>(std::max(0, scenario_.workers.count));
  const std::size_t n = std::max({workers_.size(), task_queue_workers_.size(), queue_count});
  for (std::size_t i = 0; i < n; ++i) {
    restart_worker(static_cast<int>(i));
    if (i < workers_.size()) slow_worker(static_cast<int>(i), 0);
  }
  if (!queue_workers_.empty()) pause_consumers(false);
  std::lock_guard lock(targets_mutex_);
  for (auto* t : fault_targets_) t->restore();
}

std::vector<std::pair<std::string, WorkerStats>> Topology::worker_stats() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, WorkerStats>> stats;
  for (auto& w : workers_)
    if (w) stats.emplace_back(w->id(), w->stats());
  return stats;
}

std::vector<std::pair<std::string, TaskEngineStats>> Topology::worker_task_stats() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, TaskEngineStats>> stats;
  for (auto& w : workers_)
    if (w) stats.emplace_back(w->id(), w->task_stats());
  for (auto& w : task_queue_workers_)
    if (w) stats.emplace_back(w->id(), w->task_stats());
  return stats;
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
  o.ws_listen = scenario_.balancer.listen_host + ":0";
  o.worker_ws = worker_ws_addresses();
  o.tls = balancer_tls_;
  balancer_ = std::make_unique<BalancerServer>(o);
  balancer_view_.store(balancer_.get(), std::memory_order_release);
  balancer_address_ = balancer_->address();
  balancer_ws_address_ = balancer_->ws_address();
  return balancer_address_;
}

}  // namespace pathbench

namespace pathbench {

broker::BrokerServer& Topology::broker_server() {
  if (!embedded_broker_) {
    broker::BrokerServerOptions o;
    o.listen = scenario_.workers.listen_host + ":0";
    o.grpc_listen = scenario_.workers.listen_host + ":0";
    o.http_listen = scenario_.workers.listen_host + ":0";
    o.max_pending = scenario_.broker.max_pending;
    o.tls = broker_tls_;
    embedded_broker_ = std::make_unique<broker::BrokerServer>(o);
  }
  return *embedded_broker_;
}

mq::Endpoint Topology::broker_endpoint(const std::string& kind) {
  for (auto& [k, endpoint] : queue_endpoints_)
    if (k == kind) return endpoint;
  const BrokerConfig& b = scenario_.broker;
  mq::Endpoint e;
  e.kind = kind;
  e.request_queue = b.request_queue;
  e.max_pending = b.max_pending;
  e.prefetch = b.prefetch;
  e.heartbeat_ns = b.heartbeat_ns;
  e.direct_reply_to = b.direct_reply_to;
  e.timeout_ns = std::max<Nanos>(5 * kNanosPerSecond, scenario_.load.deadline_ns);
  const std::string url = broker_url_for(b, kind);
  if (url != "auto") {
    e.url = url;
    // TLS to a broker pathbench did not start: [tls.broker] written, or a TLS scheme in the URL
    // (docs/distributed.md).
    const TlsRoleFiles& own = scenario_.tls.broker;
    if (is_tls_url(url) || !own.ca.empty() || !own.cert.empty() || !own.key.empty() || !own.server_name.empty())
      e.tls = scenario_.tls.for_role("broker");
  } else if (kind == "embedded") {
    // In process: TLS with [tls] (broker_server()), the clients presenting the broker identity as
    // they would to a broker given by url. The private RabbitMQ / NATS below listen on loopback,
    // plaintext.
    e.url = broker_server().url();
    if (broker_server().tls()) e.tls = scenario_.tls.for_role("broker");
  } else {
    broker_processes_.push_back(std::make_unique<mq::BrokerProcess>(mq::BrokerProcess::start(kind)));
    e.url = broker_processes_.back()->url();
  }
  queue_endpoints_.emplace_back(kind, e);
  return e;
}

mq::Endpoint Topology::queue_endpoint(const std::string& kind) {
  const mq::Endpoint e = broker_endpoint(kind);
  if (std::find(queue_worker_kinds_.begin(), queue_worker_kinds_.end(), kind) != queue_worker_kinds_.end()) return e;
  if (scenario_.workers.endpoints.empty()) {
    // The same database and thread count as the gRPC workers, consuming instead of listening.
    const BrokerConfig& b = scenario_.broker;
    const int threads = b.consumers > 0 ? b.consumers : scenario_.workers.threads;
    std::lock_guard lock(mutex_);
    for (int i = 0; i < scenario_.workers.count; ++i) {
      QueueWorkerOptions o;
      o.id = fmt::format("{}-{}", kind == "embedded" ? "mq" : kind.substr(0, 4), i);
      o.db_path = scenario_.database.path;
      o.threads = threads;
      o.endpoint = e;
      queue_workers_.push_back(std::make_unique<QueueWorker>(o));
      queue_worker_options_.push_back(o);
    }
  }
  queue_worker_kinds_.push_back(kind);
  return e;
}

void Topology::attach_worker_faults(WorkerFaultTarget& target) {
  std::lock_guard lock(targets_mutex_);
  fault_targets_.push_back(&target);
}

void Topology::detach_worker_faults(WorkerFaultTarget& target) {
  std::lock_guard lock(targets_mutex_);
  std::erase(fault_targets_, &target);
}

bool Topology::pause_consumers(bool paused) {
  bool any = false;
  {
    std::lock_guard lock(mutex_);
    for (auto& w : queue_workers_)
      if (w) w->pause(paused);
    queue_paused_ = paused;
    any = !queue_workers_.empty();
  }
  std::lock_guard lock(targets_mutex_);
  for (auto* t : fault_targets_) any = t->pause_consumers(paused) || any;
  return any;
}

Nanos Topology::external_cpu_ns() const {
  Nanos total = 0;
  for (auto& p : broker_processes_) total += p->cpu_ns();
  return total;
}

}  // namespace pathbench
