#include "runner/phase_cpu.h"

#include <chrono>

namespace pathbench {

PhaseCpuSampler::PhaseCpuSampler(std::vector<PhasePlan> plan, Sample sample)
    : plan_(std::move(plan)), sample_(std::move(sample)) {}

PhaseCpuSampler::~PhaseCpuSampler() { stop(); }

void PhaseCpuSampler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PhaseCpuSampler::begin(Nanos start_ns) {
  thread_ = std::thread([this, start_ns] { run(start_ns); });
}

void PhaseCpuSampler::run(Nanos start_ns) {
  for (const PhasePlan& phase : plan_) {
    const auto at = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(start_ns + phase.start_ns));
    std::unique_lock lock(mutex_);
    if (wake_.wait_until(lock, at, [this] { return stopping_; })) return;
    lock.unlock();
    CpuSample s = sample_();  // outside the lock: reading /proc takes a moment
    lock.lock();
    at_phase_start_.push_back(s);
  }
}

std::vector<CpuSample> PhaseCpuSampler::finish(Nanos client_thread_total_ns) {
  stop();
  CpuSample end = sample_();
  // The load generator's threads have ended: their own totals stand in (helper threads that
  // ended left theirs in the sample already, core/thread_cpu.h).
  end.by_group_ns[static_cast<std::size_t>(CpuGroup::client)] += client_thread_total_ns;
  std::vector<CpuSample> phases(plan_.size());
  for (std::size_t i = 0; i < at_phase_start_.size() && i < phases.size(); ++i) {
    phases[i] = cpu_delta(at_phase_start_[i], i + 1 < at_phase_start_.size() ? at_phase_start_[i + 1] : end);
    attribute_remainder(phases[i]);
  }
  return phases;
}

}  // namespace pathbench
