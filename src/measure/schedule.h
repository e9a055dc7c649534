// Load shape, kept apart from transport: intended send times for one client thread.
// Phases (warm-up, measured, later step/ramp) each carry a rate; the schedule for thread i
// of n yields that thread's share of the arrivals. Times are offsets from the run's start.
#pragma once
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "scenario/scenario.h"

namespace pathbench {

struct PhasePlan {
  std::string name;      // "warmup", "main", ...
  Nanos start_ns = 0;    // offset from the run's start
  Nanos end_ns = 0;      // exclusive
  double rate_per_s = 0; // open loop: total intended rate at the start of this phase (all threads)
  bool measured = true;  // reported as a result (warm-up is not)
  double end_rate_per_s = 0;  // rate at the end: a linear ramp when it differs; 0 = same as rate_per_s
  Nanos duration_ns() const noexcept { return end_ns - start_ns; }
  double final_rate_per_s() const noexcept { return end_rate_per_s > 0 ? end_rate_per_s : rate_per_s; }
  double mean_rate_per_s() const noexcept { return (rate_per_s + final_rate_per_s()) / 2; }
};

// The phases a scenario's load implies: an optional warm-up, then the measured phase or the
// load's own [[load.phase]] steps and ramps.
std::vector<PhasePlan> plan_phases(const LoadConfig& load);

// Index of the phase containing `offset_ns`, or phases.size() when past the end.
std::size_t phase_at(const std::vector<PhasePlan>& phases, Nanos offset_ns) noexcept;

inline constexpr Nanos kNever = std::numeric_limits<Nanos>::max();

class ArrivalSchedule {
 public:
  // Constant arrivals are staggered so n threads together form one evenly spaced stream.
  // Poisson arrivals: each thread an independent Poisson process of rate/n, seeded from `seed`.
  ArrivalSchedule(const std::vector<PhasePlan>& phases, Arrival arrival, int threads, int thread_index,
                  std::uint64_t seed);
  // The next intended send time (offset from the run's start), or kNever after the last phase.
  Nanos next() noexcept;

 private:
  void enter_phase(std::size_t phase) noexcept;

  // Seconds into the current phase at which `arrivals` (all threads) are expected: the inverse
  // of N(t) = r0 t + (r1 - r0) t^2 / 2T. Past the phase's expected total it returns > T.
  double time_of(double arrivals) const noexcept;

  const std::vector<PhasePlan>& phases_;
  Arrival arrival_;
  int threads_;
  int thread_index_;
  std::mt19937_64 rng_;
  std::size_t phase_ = 0;
  // Arrivals are placed in "expected count" space and mapped to time through time_of, so
  // constant rates, ramps and Poisson arrivals share one mechanism. Constant: the k-th arrival
  // of thread i is global arrival k*n + i; Poisson: each thread adds Exp(1) * n.
  double position_ = 0;
  std::int64_t k_ = 0;
};

// Uniform double in [0,1) from the generator's raw bits: portable, unlike std distributions.
inline double unit_uniform(std::mt19937_64& rng) noexcept {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace pathbench
