// The task path's two halves (paths/task.h), inside the paths layer: the producer, the same on
// every route, and the route that carries a task to a worker and back — gRPC Task calls
// (via = "balancer" | "direct", paths/task.cpp) or a request message through the broker's task
// queue (via = "queue", paths/task_queue.cpp). The audit (task.cpp's TaskInstance) redelivers
// through the route too.
#pragma once
#include <boost/asio/io_context.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "db/task_store_open.h"
#include "measure/path_client.h"
#include "mq/mq.h"
#include "pathbench.pb.h"

namespace pathbench {

inline constexpr std::array<const char*, 3> kTaskTypeNamesInTable{"query", "cpu", "write"};  // v1::TaskType order

std::int64_t task_unix_us();

// What one client thread's producer did, for the audit. Written by that thread only; read
// after it has been joined. A failed request's task is remembered (failures only, never on
// the ok path) so the audit can send it again.
struct TaskLedger {
  std::int64_t inserted = 0, insert_failed = 0, insert_busy = 0;
  struct Failed {
    std::int64_t task_id = 0;
    int type = 0;
    Query query;
  };
  std::vector<Failed> failed;
};

// Fills `request` for task `task_id` of `type` (the run's settings from [task]).
void fill_task_request(v1::TaskRequest& request, std::int64_t task_id, const std::string& run_id, int type,
                       const Query& query, const TaskConfig& task);

// The producer of one client thread: draws each request's type from [task] mix (its own random
// generator, seeded from the scenario's seed and the thread), tells the sink the request's
// kind, and inserts the row `received` through its own TaskStore.
class TaskProducer {
 public:
  TaskProducer(CompletionSink& sink, const Scenario& scenario, int thread_index, const std::string& run_id,
               const TaskStoreLocation& where, const std::array<std::uint8_t, 3>& kind_of_type, TaskLedger& ledger,
               std::int64_t first_task_id);
  // Draws, notes the kind, inserts, and fills `request` (request_id left to the route). False
  // when the insert failed: the request has been completed then (unavailable when the database
  // stayed locked past the busy timeout, server_error otherwise) and no task exists.
  bool produce(std::uint32_t slot, std::uint64_t request_id, const Query& query, v1::TaskRequest& request);
  // A request that did not end ok: its task, for the audit's redelivery.
  void failed(std::int64_t task_id, int type, const Query& query) { ledger_.failed.push_back({task_id, type, query}); }
  CompletionSink& sink() noexcept { return sink_; }
  const Scenario& scenario() const noexcept { return scenario_; }

 private:
  int draw_type();
  CompletionSink& sink_;
  const Scenario& scenario_;
  const std::string& run_id_;
  const std::array<std::uint8_t, 3>& kind_of_type_;
  TaskLedger& ledger_;
  std::unique_ptr<TaskStore> store_;
  std::string payload_;
  std::mt19937_64 rng_;
  std::array<double, 3> cumulative_{};
  std::int64_t next_task_id_;
};

class TaskRoute {
 public:
  virtual ~TaskRoute() = default;
  // The client of one client thread, sending what `producer` produces.
  virtual std::unique_ptr<PathClient> make_client(boost::asio::io_context& io, std::unique_ptr<TaskProducer> producer,
                                                  int thread_index) = 0;
  // Sends every task of `pending` to a worker again, at once, and waits for the answers (each
  // bounded by the request deadline and give_up_ns); counts those answered ok in `done`,
  // returns the rest. Called from the runner's thread after the drain.
  virtual std::vector<const TaskLedger::Failed*> redeliver(const std::vector<const TaskLedger::Failed*>& pending,
                                                           std::int64_t& done, Nanos give_up_ns) = 0;
  virtual std::string endpoint() const = 0;
};

// The queue route: requests on the broker's task queue `endpoint` (paths/task_queue.cpp).
std::unique_ptr<TaskRoute> make_queue_task_route(const Scenario& scenario, const std::string& run_id,
                                                 mq::Endpoint endpoint);

}  // namespace pathbench
