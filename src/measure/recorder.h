// What one client thread records for one phase of one path; merged across threads after join.
// Owned by exactly one thread while the run is going: no locks, no atomics, no allocation.
#pragma once
#include <array>
#include <cstdint>
#include <numeric>
#include <string>

#include "measure/histogram.h"
#include "measure/outcome.h"

namespace pathbench {

struct PhaseStats {
  Histogram latency{};    // ns, completion - intended send time (coordinated omission corrected); ok only
  Histogram uncorrected{};  // ns, completion - actual send time; ok only
  Histogram lag{};        // ns, actual send - intended send (how late the generator was); every issued request
  std::array<std::int64_t, kOutcomeCount> outcomes{};
  std::int64_t issued = 0;

  std::int64_t count(Outcome o) const noexcept { return outcomes[static_cast<std::size_t>(o)]; }
  std::int64_t completed() const noexcept { return std::accumulate(outcomes.begin(), outcomes.end(), std::int64_t{0}); }
  std::int64_t errors() const noexcept {
    std::int64_t n = 0;
    for (auto o : kAllOutcomes)
      if (is_error(o)) n += count(o);
    return n;
  }
  void merge(const PhaseStats& other) {
    latency.merge(other.latency);
    uncorrected.merge(other.uncorrected);
    lag.merge(other.lag);
    for (std::size_t i = 0; i < kOutcomeCount; ++i) outcomes[i] += other.outcomes[i];
    issued += other.issued;
  }
};

}  // namespace pathbench
