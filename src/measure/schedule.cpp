#include "measure/schedule.h"

#include <cmath>

namespace pathbench {

std::vector<PhasePlan> plan_phases(const LoadConfig& load) {
  std::vector<PhasePlan> phases;
  Nanos t = 0;
  if (load.warmup_ns > 0) {
    double rate = load.phases.empty() || load.phases[0].rate_per_s <= 0 ? load.rate_per_s : load.phases[0].rate_per_s;
    phases.push_back({"warmup", 0, load.warmup_ns, rate, false, 0});
    t = load.warmup_ns;
  }
  if (load.phases.empty()) {
    phases.push_back({"main", t, t + load.duration_ns, load.rate_per_s, true, 0});
    return phases;
  }
  for (auto& p : load.phases) {
    double rate = p.rate_per_s > 0 ? p.rate_per_s : load.rate_per_s;
    phases.push_back({p.name, t, t + p.duration_ns, rate, true, p.ramp_to_per_s});
    t += p.duration_ns;
  }
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
  if (arrival_ == Arrival::constant) {
    position_ = thread_index_;
  } else {
    position_ = -std::log1p(-unit_uniform(rng_)) * threads_;
  }
}

double ArrivalSchedule::time_of(double arrivals) const noexcept {
  const PhasePlan& p = phases_[phase_];
  double r0 = p.rate_per_s, r1 = p.final_rate_per_s();
  double length_s = static_cast<double>(p.duration_ns()) / 1e9;
  if (arrivals > (r0 + r1) / 2 * length_s) return length_s * 2;  // beyond this phase
  if (std::abs(r1 - r0) < 1e-9 * r0) return arrivals / r0;
  double a = (r1 - r0) / (2 * length_s);
  // The root of a t^2 + r0 t - arrivals = 0 that is >= 0, in the form that stays accurate
  // when a is small.
  return 2 * arrivals / (r0 + std::sqrt(std::max(0.0, r0 * r0 + 4 * a * arrivals)));
}

Nanos ArrivalSchedule::next() noexcept {
  while (phase_ < phases_.size()) {
    const PhasePlan& p = phases_[phase_];
    double t_s = time_of(position_);
    Nanos t = p.start_ns + std::llround(t_s * 1e9);
    if (t < p.end_ns) {
      ++k_;
      if (arrival_ == Arrival::constant)
        position_ = static_cast<double>(k_) * threads_ + thread_index_;  // no accumulated drift
      else
        position_ -= std::log1p(-unit_uniform(rng_)) * threads_;
      return t;
    }
    enter_phase(phase_ + 1);
  }
  return kNever;
}

}  // namespace pathbench
