// The human-readable summary printed at the end of a run (same rows as summary.csv).
#pragma once
#include <string>

#include "runner/run_result.h"

namespace pathbench {

// A fixed-width table, one row per (path, measured phase), then one accounting line per path.
// Where the run has a `tcp_echo` path, a column gives each path's p50 as a multiple of its.
// After a task path's accounting line: its audit (tasks.csv's figures), with a WARNING line when a
// task was lost or the audit could not finish.
std::string format_summary_table(const RunResult& result);
std::string format_task_audit(const std::string& label, const TaskAudit& audit);

}  // namespace pathbench
