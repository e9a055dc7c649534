#include "measure/interval.h"

#include <algorithm>

namespace pathbench {

IntervalCollector::IntervalCollector(const std::vector<PhasePlan>& plan, int threads, Observer observer)
    : plan_(plan), threads_(threads), observer_(std::move(observer)), last_second_(threads, -1), retired_(threads, false) {}

void IntervalCollector::submit(int thread, std::int64_t second, const IntervalBucket& bucket, std::int64_t in_flight) {
  std::lock_guard lock(mutex_);
  Pending& p = pending_[second];
  p.merged.latency.merge(bucket.latency);
  for (std::size_t i = 0; i < kOutcomeCount; ++i) p.merged.outcomes[i] += bucket.outcomes[i];
  p.in_flight += in_flight;
  ++p.reported;
  last_second_[static_cast<std::size_t>(thread)] = second;
  emit_ready_locked();
}

void IntervalCollector::retire(int thread) {
  std::lock_guard lock(mutex_);
  retired_[static_cast<std::size_t>(thread)] = true;
  emit_ready_locked();
}

// Second s is complete when every thread has handed in s or moved past it (or retired).
void IntervalCollector::emit_ready_locked() {
  while (!pending_.empty()) {
    auto it = pending_.begin();
    std::int64_t second = it->first;
    bool ready = true;
    for (int t = 0; t < threads_; ++t)
      if (!retired_[static_cast<std::size_t>(t)] && last_second_[static_cast<std::size_t>(t)] < second) ready = false;
    if (!ready) return;
    const Pending& p = it->second;
    IntervalRow row;
    std::size_t phase = phase_at(plan_, second * kNanosPerSecond);
    row.phase = phase < plan_.size() ? plan_[phase].name : "drain";
    row.second = second;
    for (auto o : kAllOutcomes) {
      std::int64_t n = p.merged.outcomes[static_cast<std::size_t>(o)];
      row.completed += n;
      if (o == Outcome::ok) row.ok = n;
      else if (o == Outcome::timeout) row.timeouts = n;
      else if (o == Outcome::rejected) row.rejected = n;
      else row.errors += n;
    }
    const Histogram& h = p.merged.latency;
    row.p50_us = static_cast<double>(std::min(h.value_at_percentile(50), h.max())) / 1000.0;
    row.p99_us = static_cast<double>(std::min(h.value_at_percentile(99), h.max())) / 1000.0;
    row.max_us = static_cast<double>(h.max()) / 1000.0;
    row.in_flight = p.in_flight;
    rows_.push_back(row);
    if (observer_) observer_(rows_.back(), p.merged);
    pending_.erase(it);
  }
}

std::vector<IntervalRow> IntervalCollector::rows() const {
  std::lock_guard lock(mutex_);
  return rows_;
}

}  // namespace pathbench
