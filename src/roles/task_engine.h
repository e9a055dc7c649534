// The worker's task engine (the `task` path, seed 003's consumer): serves the Task RPC of
// pathbench.v1.Worker next to the QueryEngine, nothing about other transports.
//
// A Task call is queued (bounded by the worker's max_queue: beyond it RESOURCE_EXHAUSTED) for one
// of `threads` task threads "pb-<id>-task<n>" (started on the first task, so a worker that never
// sees one opens nothing). Each thread owns its TaskStore (the tasks file next to the worker's
// sales database, db/task_store_open.h) and, for query tasks, its own QueryExecutor. Per task:
// claim (received -> processing, lease from the request), the type's work, finish (done, or
// failed when the work failed), reply. The work runs whatever the caller's deadline says (a task
// is durable work: a task whose request timed out still finishes, and the audit counts it);
// its own bound is the lease.
//
// Statuses: OK; FAILED_PRECONDITION when the task is not claimable (already done, or held by
// another worker's lease); INVALID_ARGUMENT for an unknown type or bad query; UNAVAILABLE when
// the tasks database stayed locked past the busy timeout, or the worker is shutting down;
// INTERNAL for any other database error; the work's own failure (a query's status) after the
// task was finished as `failed`.
//
// A hard stop (a drain's grace over; a killed worker has none) answers queued tasks UNAVAILABLE
// untouched and abandons running ones without writing their end: as after a crash, they stay
// `processing` until their lease ends and someone reclaims them (docs/tasks.md).
#pragma once
#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "db/executor.h"
#include "db/task_store.h"
#include "roles/worker.h"

namespace pathbench {

namespace v1 {
class TaskRequest;
class TaskReply;
}  // namespace v1

inline constexpr std::array<const char*, 3> kTaskTypeNames{"query", "cpu", "write"};  // TaskType order

// Upper bounds (seconds) of the task duration histogram's buckets; +Inf is implied.
inline constexpr std::array<double, 12> kTaskDurationBucketsS{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                              0.01,   0.025,   0.05,   0.1,   0.25,   1.0};

// Cumulative since the engine started; read any time (relaxed atomics, a snapshot).
struct TaskTypeStats {
  std::uint64_t completed = 0, failed = 0;
  std::array<std::uint64_t, kTaskDurationBucketsS.size() + 1> duration_buckets{};  // not cumulative; last = +Inf
  double duration_sum_s = 0;
};
struct TaskEngineStats {
  std::int64_t in_processing = 0;
  std::uint64_t received = 0, rejected = 0, not_claimable = 0, busy = 0, abandoned = 0;
  std::array<TaskTypeStats, kTaskTypeNames.size()> by_type{};
};

class TaskEngine {
 public:
  explicit TaskEngine(const WorkerOptions& options);
  ~TaskEngine();  // stop()
  TaskEngine(const TaskEngine&) = delete;
  TaskEngine& operator=(const TaskEngine&) = delete;

  // The Task RPC (gRPC's callback threads). The reactor finishes exactly once.
  grpc::ServerUnaryReactor* serve(grpc::CallbackServerContext* context, const v1::TaskRequest* request,
                                  v1::TaskReply* reply);

  void set_hard_stop(Nanos at_ns);
  // Lets the task threads empty the queue, then joins them. Idempotent. Called once no Task call
  // can arrive any more (after grpc::Server::Shutdown has returned).
  void stop();

  TaskEngineStats stats() const;

  // What a thread running tasks owns: its store and executor, opened on its first task.
  struct ThreadState {
    std::unique_ptr<TaskStore> store;
    std::unique_ptr<QueryExecutor> executor;
  };
  // One task on the caller's thread, the work a task thread does for a Task call (claim, the
  // type's work, finish), counted the same way: for the queue route's consumers
  // (roles/task_queue_worker.h), each with its own `state`. The status is the Task call's
  // (above); `reply` is filled when it is OK. received_ns: when the task reached this worker.
  grpc::Status run_here(const v1::TaskRequest& request, v1::TaskReply& reply, Nanos received_ns, ThreadState& state);

 private:
  class Call;
  void start_threads();
  void task_loop(int index);
  void run(Call& call, ThreadState& state);
  grpc::Status execute(const v1::TaskRequest& request, v1::TaskReply& reply, Nanos received_ns, ThreadState& state);
  void record_end(int type, bool done, Nanos duration_ns) noexcept;

  const WorkerOptions options_;
  std::once_flag started_;
  std::mutex mu_;  // guards queue_, stopping_
  std::condition_variable cv_;
  std::deque<Call*> queue_;
  bool stopping_ = false;
  std::atomic<Nanos> hard_stop_ns_{kNoDeadline};

  std::atomic<std::int64_t> in_processing_{0};
  std::atomic<std::uint64_t> received_{0}, rejected_{0}, not_claimable_{0}, busy_{0}, abandoned_{0};
  struct AtomicTypeStats {
    std::atomic<std::uint64_t> completed{0}, failed{0};
    std::array<std::atomic<std::uint64_t>, kTaskDurationBucketsS.size() + 1> buckets{};
    std::atomic<std::int64_t> duration_sum_ns{0};
  };
  std::array<AtomicTypeStats, kTaskTypeNames.size()> by_type_{};

  std::vector<std::thread> threads_;  // last: joined before the above go
};

}  // namespace pathbench
