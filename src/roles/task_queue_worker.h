// The worker role of the task path's queue route (`kind = "task"`, `via = "queue"`): consumer
// threads that take serialized TaskRequests off the broker's task queue as competing consumers
// (mq::Responder, any broker kind) and run each with the worker's TaskEngine on the consumer's
// own thread (TaskEngine::run_here: claim, the type's work, finish — the very work a gRPC worker's
// task threads do, with the same counters), then publish the TaskReply, its status in
// TaskReply.status, to the request's reply-to. Each consumer thread has its own TaskStore and
// executor (TaskEngine::ThreadState).
//
// kill(): as a worker process dying — the engine's hard stop now (a running task is abandoned and
// stays `processing` until its lease ends, docs/tasks.md), then the consumers stop; unacknowledged
// requests go back to the broker, and another worker, finding them under the lease, answers them
// FAILED_PRECONDITION. The task path's audit reclaims and redelivers them after the drain.
#pragma once
#include <memory>
#include <string>

#include "mq/mq.h"
#include "roles/task_engine.h"
#include "roles/worker.h"

namespace pathbench {

// The task queue that goes with a request queue: "pathbench.requests" -> "pathbench.requests.tasks".
std::string task_queue_name(const std::string& request_queue);

class TaskQueueWorker {
 public:
  // `worker`: id, db_path (the tasks database next to it), task busy timeout and durability;
  // `consumers` threads on endpoint.request_queue. Throws std::runtime_error (broker unreachable).
  TaskQueueWorker(const WorkerOptions& worker, const mq::Endpoint& endpoint, int consumers);
  ~TaskQueueWorker();  // stops consuming (unacknowledged requests go back), then the engine
  TaskQueueWorker(const TaskQueueWorker&) = delete;
  TaskQueueWorker& operator=(const TaskQueueWorker&) = delete;

  const std::string& id() const noexcept;
  // Dies at once (above). Idempotent; the object may only be destroyed afterwards.
  void kill();
  TaskEngineStats task_stats() const;
  mq::Responder::Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathbench
