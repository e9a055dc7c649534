// Topology's part for the task path's queue route (runner/topology.h: task_queue_endpoint).
#include <fmt/format.h>

#include "runner/topology.h"

#include "roles/task_queue_worker.h"

namespace pathbench {

mq::Endpoint Topology::task_queue_endpoint(const std::string& kind) {
  for (auto& [k, endpoint] : task_queue_endpoints_)
    if (k == kind) return endpoint;
  mq::Endpoint e = broker_endpoint(kind);  // the broker alone: no idle query-queue consumers beside the task's
  e.request_queue = task_queue_name(scenario_.broker.request_queue);
  if (scenario_.workers.endpoints.empty()) {
    const int consumers = scenario_.broker.consumers > 0 ? scenario_.broker.consumers : scenario_.workers.threads;
    std::lock_guard lock(mutex_);
    for (int i = 0; i < scenario_.workers.count; ++i) {
      WorkerOptions o = worker_options(i);
      o.id = fmt::format("task-{}-{}", kind == "embedded" ? "mq" : kind.substr(0, 4), i);
      task_queue_workers_.push_back(std::make_unique<TaskQueueWorker>(o, e, consumers));
      task_queue_consumers_.push_back(consumers);
    }
  }
  task_queue_endpoints_.emplace_back(kind, e);
  return e;
}

bool Topology::kill_task_queue_worker(std::size_t index) {
  if (index >= task_queue_workers_.size()) return false;
  if (task_queue_workers_[index]) {
    task_queue_workers_[index]->kill();
    task_queue_workers_[index].reset();
  }
  return true;
}

bool Topology::restart_task_queue_worker(std::size_t index) {
  if (index >= task_queue_workers_.size() || task_queue_endpoints_.empty()) return false;
  if (task_queue_workers_[index]) return true;
  WorkerOptions o = worker_options(static_cast<int>(index));
  const std::string& kind = task_queue_endpoints_.front().first;
  o.id = fmt::format("task-{}-{}", kind == "embedded" ? "mq" : kind.substr(0, 4), index);
  task_queue_workers_[index] =
      std::make_unique<TaskQueueWorker>(o, task_queue_endpoints_.front().second, task_queue_consumers_[index]);
  return true;
}

}  // namespace pathbench
