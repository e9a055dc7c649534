// Runs a whole scenario: prepares the database, starts each path's servers through the
// registry, drives it with the load generator, and collects one RunResult. Paths run one
// after another under identical load. Used by `pathbench run` and by the end-to-end tests.
#pragma once
#include <atomic>
#include <functional>
#include <string>

#include "measure/interval.h"
#include "runner/run_result.h"

namespace pathbench {

class Topology;

struct RunObserver {
  std::function<void(const std::string&)> note;  // progress lines for the user (may be empty)
  // Each second of each path as it completes (on a client thread; keep it quick): the row for
  // progress lines, the bucket for live metrics. `total_s` is the path's planned length
  // (warm-up + measured) in seconds.
  std::function<void(const std::string& path, const IntervalRow& row, const IntervalBucket& bucket, double total_s)>
      second;
  // The run's servers: called with the Topology once it exists and with nullptr just before it
  // goes away (on the runner's thread), so live metrics can read the roles' counters.
  std::function<void(const Topology*)> topology;
};

// Whether any path of the scenario will run database queries on workers this process spawns
// (paths whose workers are all external need no local database: runner/dataset.h).
bool scenario_needs_database(const Scenario& scenario);
// Whether any path runs database queries or tasks at all, wherever its workers are.
bool scenario_uses_database(const Scenario& scenario);

// Seeds the scenario's SQLite database when it is missing (and needed); nothing for PostgreSQL
// (runner/database.h: prepare_database, which `pathbench run` calls, handles both). Throws SeedError.
void ensure_database(const Scenario& scenario, const RunObserver& observer);

// Blocks until every path ran (or `stop` turned true). A path that cannot start is recorded
// with its failure and the run goes on with the next one.
RunResult run_scenario(const Scenario& scenario, const std::atomic<bool>& stop, const RunObserver& observer);

}  // namespace pathbench
