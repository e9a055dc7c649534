// Per-second results (timeseries.csv, live progress) with memory that does not grow with
// run length: each client thread fills one small IntervalBucket for the current second and
// hands it to the path's IntervalCollector when the second is over (one short lock per thread
// per second — never per request). When every thread has handed in second s, the collector
// turns it into an IntervalRow, calls the observer and drops the histogram.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/histogram.h"
#include "core/outcome.h"
#include "measure/schedule.h"

namespace pathbench {

struct IntervalBucket {
  Histogram latency{Histogram::kDefaultHighest, 2};  // ok requests, from the intended send time
  std::array<std::int64_t, kOutcomeCount> outcomes{};
  void reset() noexcept {
    latency.reset();
    outcomes.fill(0);
  }
};

struct IntervalRow {
  std::string phase;  // the phase the second starts in; "drain" after the last
  std::int64_t second = 0;  // since the common start line
  std::int64_t completed = 0, ok = 0, errors = 0, timeouts = 0, rejected = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
  std::int64_t in_flight = 0;  // at the end of the second, all threads
  // Messaging paths (paths/messaging.h): messages waiting in the broker, sampled from it at the
  // end of the second, and consumed (first deliveries acked) during it; -1 elsewhere.
  std::int64_t backlog = -1, consumed = -1;
};

class IntervalCollector {
 public:
  // Sees each completed second: its row, and the merged bucket it was made from.
  using Observer = std::function<void(const IntervalRow&, const IntervalBucket&)>;
  IntervalCollector(const std::vector<PhasePlan>& plan, int threads, Observer observer);

  // Client thread `thread` hands in its bucket for `second` (in increasing order per thread).
  void submit(int thread, std::int64_t second, const IntervalBucket& bucket, std::int64_t in_flight);
  // A thread that will hand in nothing more (it finished or failed to start).
  void retire(int thread);

  std::vector<IntervalRow> rows() const;  // complete seconds, in order

 private:
  struct Pending {
    IntervalBucket merged;
    std::int64_t in_flight = 0;
    int reported = 0;
  };
  void emit_ready_locked();

  const std::vector<PhasePlan>& plan_;
  int threads_;
  Observer observer_;
  mutable std::mutex mutex_;
  std::map<std::int64_t, Pending> pending_;
  std::vector<std::int64_t> last_second_;  // per thread: the last second handed in (-1: none)
  std::vector<bool> retired_;
  std::vector<IntervalRow> rows_;
};

}  // namespace pathbench
