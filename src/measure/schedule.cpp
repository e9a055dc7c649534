#include "measure/schedule.h"

#include <cmath>

namespace pathbench {

std::vector<PhasePlan> plan_phases(const LoadConfig& load) {
  std::vector<PhasePlan> phases;
  if (load.warmup_ns > 0) phases.push_back({"warmup", 0, load.warmup_ns, load.rate_per_s, false});
  phases.push_back({"main", load.warmup_ns, load.warmup_ns + load.duration_ns, load.rate_per_s, true});
  return phases;
}

std::size_t phase_at(const std::vector<PhasePlan>& phases, Nanos offset_ns) noexcept {
  for (std::size_t i = 0; i < phases.size(); ++i)
    if (offset_ns < phases[i].end_ns) return i;
  return phases.size();
}

ArrivalSchedule::ArrivalSchedule(const std::vector<PhasePlan>& phases, Arrival arrival, int threads,
                                 int thread_index, std::uint64_t seed)
    : phases_(phases), arrival_(arrival), threads_(threads), thread_index_(thread_index),
      rng_(seed ^ (0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(thread_index + 1))) {
  enter_phase(0);
}

void ArrivalSchedule::enter_phase(std::size_t phase) noexcept {
  phase_ = phase;
  k_ = 0;
  if (phase_ >= phases_.size()) return;
  const PhasePlan& p = phases_[phase_];
  interval_ns_ = 1e9 * threads_ / p.rate_per_s;
  if (arrival_ == Arrival::constant) {
    // Thread i's arrivals sit at i/n of the way through each shared interval.
    phase_time_ns_ = static_cast<double>(p.start_ns) + interval_ns_ * thread_index_ / threads_;
    next_ns_ = phase_time_ns_;
  } else {
    next_ns_ = static_cast<double>(p.start_ns) - std::log1p(-unit_uniform(rng_)) * interval_ns_;
  }
}

Nanos ArrivalSchedule::next() noexcept {
  while (phase_ < phases_.size()) {
    if (next_ns_ < static_cast<double>(phases_[phase_].end_ns)) {
      Nanos result = std::llround(next_ns_);
      ++k_;
      if (arrival_ == Arrival::constant)
        next_ns_ = phase_time_ns_ + interval_ns_ * static_cast<double>(k_);  // no accumulated drift
      else
        next_ns_ -= std::log1p(-unit_uniform(rng_)) * interval_ns_;
      return result;
    }
    enter_phase(phase_ + 1);
  }
  return kNever;
}

}  // namespace pathbench
