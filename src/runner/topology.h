// The servers of one run, shared by its paths: workers and the balancer, spawned in-process
// on loopback the first time a path needs them (or reached at external endpoints when the
// scenario names them), and stopped — balancer first, then workers — when the run ends.
// Called from the runner's thread only.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/broker_server.h"
#include "mq/mq.h"
#include "mq/server_process.h"
#include "paths/endpoints.h"
#include "roles/balancer.h"
#include "roles/queue_worker.h"
#include "roles/worker.h"
#include "scenario/scenario.h"

namespace pathbench {

class TaskQueueWorker;  // roles/task_queue_worker.h (not included: it declares pathbench::v1)

class Topology final : public Endpoints {
 public:
  explicit Topology(const Scenario& scenario);
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  // "host:port" of every worker. Throws std::runtime_error when one cannot start.
  const std::vector<std::string>& worker_addresses() override;
  // "host:port" of the balancer (starts the workers too). Throws std::runtime_error.
  const std::string& balancer_address() override;
  // The same for their WebSocket fronts (external ones: [workers] ws_endpoints, [balancer]
  // ws_endpoint; a scenario that reaches external roles without them cannot use WebSocket).
  const std::vector<std::string>& worker_ws_addresses() override;
  const std::string& balancer_ws_address() override;

  // Queue paths: the broker of `kind` (embedded | rabbitmq | nats) — the scenario's url for
  // [broker] kind, else "auto": an in-process broker (embedded) or a private server
  // (rabbitmq-server / nats-server, stopped with the topology) — and, unless the workers are
  // external, one QueueWorker per worker consuming its request queue. Started on first use.
  // Throws std::runtime_error (server program missing, broker unreachable, database).
  mq::Endpoint queue_endpoint(const std::string& kind) override;
  // The task path's queue route: the broker of `kind` (as queue_endpoint, which it starts) with its
  // task queue (roles/task_queue_worker.h's task_queue_name of [broker] request_queue) and, unless
  // the workers are external, one TaskQueueWorker per worker consuming it (worker i's database,
  // threads as [broker] consumers, the task settings). kill_worker / restart_worker act on
  // worker i's TaskQueueWorker too. Started on first use; throws std::runtime_error.
  // (runner/topology_tasks.cpp)
  mq::Endpoint task_queue_endpoint(const std::string& kind) override;
  // The run's in-process broker (broker/broker_server.h), started on first use with every front
  // on loopback (native, gRPC MessageQueue, HTTP+WebSocket; free ports) and [broker]
  // max_pending; shared by the embedded queue path and the broker workload paths. Throws
  // std::runtime_error.
  broker::BrokerServer& broker_server() override;
  // The broker of `kind` alone (the same url resolution and private server as queue_endpoint,
  // shared with it), no queue workers: one-way messaging starts its own consumers.
  mq::Endpoint broker_endpoint(const std::string& kind) override;
  // What a path started for the workers (messaging consumers): the worker faults below reach it
  // while attached. Runner's thread; detach before `target` goes.
  void attach_worker_faults(WorkerFaultTarget& target) override;
  void detach_worker_faults(WorkerFaultTarget& target) override;
  // Fault injection (pause_consumers / resume_consumers): every queue worker and attached
  // messaging consumer stops / resumes taking requests. False when none runs. Thread-safe.
  bool pause_consumers(bool paused);

  // Faults on spawned worker `index` (thread-safe against the servers, called from the
  // runner's fault thread). kill: the worker drains nothing — it goes away at once, its address
  // kept; restart: a new worker on the same address; slow: add `delay_ns` per query.
  // kill and restart act on the attached fault targets' worker `index` too (its messaging
  // consumers die abruptly / come back). restore(): every worker back up, resumed and at normal
  // speed (between paths). Each returns false when there is no such spawned worker (none started
  // in this run) nor attached one.
  bool kill_worker(int index);
  bool restart_worker(int index);
  bool slow_worker(int index, Nanos delay_ns);
  void restore();

  // CPU time used so far by the servers this run started as separate processes (private
  // rabbitmq-server / nats-server trees); runner's thread.
  Nanos external_cpu_ns() const;

  // The spawned workers' counters (id, stats), for metrics; thread-safe. Killed ones are left out.
  std::vector<std::pair<std::string, WorkerStats>> worker_stats() const;
  // Their task engines' counters (roles/task_engine.h), the same way.
  std::vector<std::pair<std::string, TaskEngineStats>> worker_task_stats() const;
  // The spawned balancer, or null (any thread: the metrics thread reads it while a later path
  // may be creating it).
  BalancerServer* balancer() const noexcept { return balancer_view_.load(std::memory_order_acquire); }

 private:
  const Scenario& scenario_;
  // Each role's identity for the servers spawned here ([tls], [tls.ROLE]); read once at
  // construction; null when TLS is off.
  // broker_tls_: the in-process embedded broker's listeners (native tcps://, gRPC, https/wss).
  std::shared_ptr<const TlsMaterial> worker_tls_, balancer_tls_, broker_tls_;
  WorkerOptions worker_options(int index) const;
  mutable std::mutex mutex_;  // guards workers_ against faults and metrics scrapes
  std::vector<std::unique_ptr<WorkerServer>> workers_;  // null while killed
  std::vector<std::string> worker_addresses_;
  std::vector<std::string> worker_ws_addresses_;
  std::unique_ptr<BalancerServer> balancer_;
  std::atomic<BalancerServer*> balancer_view_{nullptr};  // published once balancer_ is up
  std::string balancer_address_;
  std::string balancer_ws_address_;
  std::unique_ptr<broker::BrokerServer> embedded_broker_;
  std::vector<std::unique_ptr<mq::BrokerProcess>> broker_processes_;
  std::vector<std::pair<std::string, mq::Endpoint>> queue_endpoints_;  // by kind, once started
  // Per kind, one per worker: [k * workers.count + i] is worker i's; null while killed.
  std::vector<std::unique_ptr<QueueWorker>> queue_workers_;            // under mutex_
  std::vector<QueueWorkerOptions> queue_worker_options_;               // how [j] was made (restart)
  bool queue_paused_ = false;                                          // pause_consumers in effect
  // mutex_ held: the positions of worker `index`'s queue workers in queue_workers_, one per kind.
  std::vector<std::size_t> queue_worker_slots(int index) const;
  // The task queue route's (runner/topology_tasks.cpp); [i] null while worker i is killed.
  std::vector<std::pair<std::string, mq::Endpoint>> task_queue_endpoints_;
  std::vector<std::unique_ptr<TaskQueueWorker>> task_queue_workers_;  // under mutex_
  std::vector<int> task_queue_consumers_;                             // threads of [i]
  // mutex_ held; false when there is no such task queue worker.
  bool kill_task_queue_worker(std::size_t index);
  bool restart_task_queue_worker(std::size_t index);
  std::vector<std::string> queue_worker_kinds_;  // the kinds whose queue workers were started
  mutable std::mutex targets_mutex_;             // guards fault_targets_ (taken before a target's own)
  std::vector<WorkerFaultTarget*> fault_targets_;
};

}  // namespace pathbench
