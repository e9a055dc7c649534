// The human-readable summary printed at the end of a run (same rows as summary.csv), and its
// warnings and accounting lines on their own for summary.json and report.html.
#pragma once
#include <string>
#include <vector>

#include "runner/run_result.h"

namespace pathbench {

// A fixed-width table, one row per (path, measured phase), then the warnings and one accounting
// line per path. Latencies are in µs in every cell; a path that failed or completed nothing
// shows '-' for its latencies. Where the run has a `tcp_echo` path, a column gives each path's
// p50 as a multiple of its.
// After a task path's accounting line: its audit (tasks.csv's figures), with a WARNING line when a
// task was lost or the audit could not finish.
std::string format_summary_table(const RunResult& result);
std::string format_task_audit(const std::string& label, const TaskAudit& audit);

// The lines under the table that say the tool or the server bent the measurement: "WARNING: ..."
// (the generator itself sent late), "NOTE: ..." (requests waited for a free in-flight slot),
// and the worst generator wake-up lag.
std::vector<std::string> summary_warnings(const RunResult& result);

// Per path: "<path>: FAILED: <why>", or its knee line (knee runs) and its accounting line
// ("<path>: issued N = ok + errors + timeouts + rejected; ... -> accounting holds").
std::vector<std::string> accounting_lines(const RunResult& result);

}  // namespace pathbench
