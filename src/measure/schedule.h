// Load shape, kept apart from transport: intended send times for one client thread.
// Phases (warm-up, measured, later step/ramp) each carry a rate; the schedule for thread i
// of n yields that thread's share of the arrivals. Times are offsets from the run's start.
#pragma once
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "measure/clock.h"
#include "scenario/scenario.h"

namespace pathbench {

struct PhasePlan {
  std::string name;      // "warmup", "main", ...
  Nanos start_ns = 0;    // offset from the run's start
  Nanos end_ns = 0;      // exclusive
  double rate_per_s = 0; // open loop: total intended rate in this phase (all threads)
  bool measured = true;  // reported as a result (warm-up is not)
  Nanos duration_ns() const noexcept { return end_ns - start_ns; }
};

// The phases a scenario's load implies: an optional warm-up, then the measured phase.
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

  const std::vector<PhasePlan>& phases_;
  Arrival arrival_;
  int threads_;
  int thread_index_;
  std::mt19937_64 rng_;
  std::size_t phase_ = 0;
  double interval_ns_ = 0;   // this thread's mean gap in the current phase
  double phase_time_ns_ = 0; // constant: time of arrival k is start + offset + k*interval
  std::int64_t k_ = 0;
  double next_ns_ = 0;
};

// Uniform double in [0,1) from the generator's raw bits: portable, unlike std distributions.
inline double unit_uniform(std::mt19937_64& rng) noexcept {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace pathbench
