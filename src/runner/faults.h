// Applies a scenario's [[fault]] entries during one path's run, on a thread of its own
// ("pb-faults"), each at its time from the path's start line; records what it did and, for
// kill_worker with a balancer in the run, how long until the balancer had ejected the worker.
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "measure/load_generator.h"
#include "runner/topology.h"

namespace pathbench {

class FaultRunner {
 public:
  FaultRunner(const std::vector<FaultSpec>& faults, Topology& topology);
  ~FaultRunner();  // finish()es
  // The path's start line is set (called from run_path's on_start).
  void begin(Nanos start_ns);
  // The path is over: stop waiting, join. Idempotent.
  void finish();
  std::vector<PathRunResult::FaultEvent> events() const;

 private:
  void run();
  bool wait_until(Nanos t);  // false when finish() came first
  bool apply(const FaultSpec& fault);  // false: no such spawned worker in this path's run

  std::vector<FaultSpec> faults_;
  Topology& topology_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  Nanos start_ns_ = 0;
  bool started_ = false, finished_ = false;
  std::vector<PathRunResult::FaultEvent> events_;
  std::thread thread_;
};

}  // namespace pathbench
