// The human-readable summary printed at the end of a run (same rows as summary.csv).
#pragma once
#include <string>

#include "runner/run_result.h"

namespace pathbench {

// A fixed-width table, one row per (path, measured phase), then one accounting line per path.
// Where the run has a `tcp_echo` path, a column gives each path's p50 as a multiple of its.
std::string format_summary_table(const RunResult& result);

}  // namespace pathbench
