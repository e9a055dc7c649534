// The task engines' Prometheus families (seed 003's metrics: tasks in processing, completed by
// type, duration by type), for runs (roles_exposition) and `serve worker`.
#include "net/prometheus.h"
#include "report/metrics.h"
#include "roles/task_engine.h"

namespace pathbench {

std::string tasks_exposition(const std::vector<std::pair<std::string, TaskEngineStats>>& workers) {
  std::string out;
  net::PrometheusWriter w(out);
  w.family("pathbench_tasks_in_processing", net::MetricType::gauge,
           "Tasks a worker has claimed (state processing) and not finished yet.");
  for (auto& [id, s] : workers)
    w.sample("pathbench_tasks_in_processing", {{"worker", id}}, static_cast<double>(s.in_processing));
  w.family("pathbench_tasks_completed_total", net::MetricType::counter, "Tasks a worker finished as done, by type.");
  for (auto& [id, s] : workers)
    for (std::size_t t = 0; t < kTaskTypeNames.size(); ++t)
      w.sample("pathbench_tasks_completed_total", {{"worker", id}, {"type", kTaskTypeNames[t]}}, s.by_type[t].completed);
  w.family("pathbench_tasks_failed_total", net::MetricType::counter,
           "Tasks a worker finished as failed (their work failed), by type.");
  for (auto& [id, s] : workers)
    for (std::size_t t = 0; t < kTaskTypeNames.size(); ++t)
      w.sample("pathbench_tasks_failed_total", {{"worker", id}, {"type", kTaskTypeNames[t]}}, s.by_type[t].failed);
  w.family("pathbench_task_duration_seconds", net::MetricType::histogram,
           "From a task thread taking the task to its finish (claim, work, finish), by type.");
  for (auto& [id, s] : workers) {
    for (std::size_t t = 0; t < kTaskTypeNames.size(); ++t) {
      const TaskTypeStats& ts = s.by_type[t];
      std::uint64_t count = 0;
      for (auto n : ts.duration_buckets) count += n;
      w.histogram("pathbench_task_duration_seconds", {{"worker", id}, {"type", kTaskTypeNames[t]}},
                  kTaskDurationBucketsS, ts.duration_buckets, ts.duration_sum_s, count);
    }
  }
  // The states this worker moved tasks into (the whole table's counts by state are tasks.csv's).
  w.family("pathbench_tasks_by_state", net::MetricType::gauge,
           "Tasks by the state this worker left them in: processing now, done, failed, abandoned (left processing "
           "by a hard stop, for the lease reclaim).");
  for (auto& [id, s] : workers) {
    std::uint64_t done = 0, failed = 0;
    for (auto& ts : s.by_type) {
      done += ts.completed;
      failed += ts.failed;
    }
    const std::pair<const char*, double> states[] = {{"processing", static_cast<double>(s.in_processing)},
                                                     {"done", static_cast<double>(done)},
                                                     {"failed", static_cast<double>(failed)},
                                                     {"abandoned", static_cast<double>(s.abandoned)}};
    for (auto& [state, n] : states) w.sample("pathbench_tasks_by_state", {{"worker", id}, {"state", state}}, n);
  }
  w.family("pathbench_task_calls_total", net::MetricType::counter,
           "Task calls a worker received, and those it refused: rejected (queue full), not_claimable, busy (tasks "
           "database locked past the busy timeout).");
  for (auto& [id, s] : workers) {
    const std::pair<const char*, std::uint64_t> results[] = {
        {"received", s.received}, {"rejected", s.rejected}, {"not_claimable", s.not_claimable}, {"busy", s.busy}};
    for (auto& [result, n] : results) w.sample("pathbench_task_calls_total", {{"worker", id}, {"result", result}}, n);
  }
  return out;
}

}  // namespace pathbench
