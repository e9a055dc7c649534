// Everything one `pathbench run` produced, handed to the result writers once, after the run.
#pragma once
#include <string>
#include <vector>

#include "measure/load_generator.h"
#include "runner/agent_report.h"
#include "core/machine_context.h"
#include "scenario/scenario.h"

namespace pathbench {

struct RunResult {
  Scenario scenario;                 // as run, overrides applied
  MachineContext machine;
  std::string command_line;
  std::string started_utc, finished_utc;
  bool interrupted = false;          // a signal stopped it: results are partial
  std::vector<PathRunResult> paths;  // in scenario order
  std::vector<AgentsPathReport> agent_paths;  // [agents]: each path's per-agent parts, in run order
  // The private servers the run started (`url = "auto"`): kind ("rabbitmq" | "nats" |
  // "postgres") and the installed program's version ("" when it could not be read).
  std::vector<std::pair<std::string, std::string>> servers;
};

// Latency values in results files are microseconds with three decimals (ns resolution).
inline double to_micros(std::int64_t ns) { return static_cast<double>(ns) / 1000.0; }

}  // namespace pathbench
