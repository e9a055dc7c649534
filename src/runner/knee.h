// The knee: the highest open-loop rate a path sustains — p99 within an SLO, errors within a
// limit, and the generator keeping its schedule (achieved ≥ 99 % of offered, so no backlog
// grows). Found per path by doubling from a low rate until a probe fails (or the high rate
// holds), then geometric bisection inside that bracket, each probe a short run through the one
// load generator; the answer is confirmed by running it again (a noisy machine can make one
// probe look better than it is; a failed confirmation lowers it).
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "measure/load_generator.h"
#include "paths/registry.h"

namespace pathbench {


struct KneeProbe {
  double rate_per_s = 0;
  PathRunResult run;  // the probe's own run (one warm-up and one measured phase)
  bool sustainable = false;
  std::string verdict;  // why not, or "ok"
};

struct KneeResult {
  double knee_rate_per_s = 0;  // 0: not even the low rate was sustainable
  bool above_high = false;     // the high rate was sustainable: the knee is beyond the range
  bool confirmed = false;
  std::vector<KneeProbe> probes;  // in the order they ran
};

// Runs probes of `spec` on `instance` (its servers stay up between probes). Stops early
// when `stop` turns true. `on_probe` (optional) sees each probe when it is done.
KneeResult find_knee(const Scenario& scenario, const PathSpec& spec, const PathInfo& info, PathInstance& instance,
                     const KneeConfig& config, const std::atomic<bool>& stop,
                     const std::function<void(const KneeProbe&)>& on_probe = {}, const DatasetShape* shape = nullptr);

// The verdict for one probe's measured phase ("ok" when sustainable).
std::string judge_probe(const PhaseStats& stats, double rate_per_s, Nanos duration_ns, const KneeConfig& config);

}  // namespace pathbench
