// What a run with [agents] records about each agent (report/summary_csv: one row per agent and
// phase with an `agent` column; report/context_json: clocks and start skew). Plain data.
#pragma once
#include <string>
#include <vector>

#include "core/clock.h"
#include "measure/load_generator.h"

namespace pathbench {

// The bound on an agent's start skew beyond which `run` prints a WARNING (docs/distributed.md):
// this much plus the agent's clock uncertainty.
inline constexpr Nanos kStartSkewBoundNs = 2 * kNanosPerMilli;

struct AgentClock {
  std::string endpoint, version, hostname;
  Nanos offset_ns = 0;       // agent steady clock - coordinator steady clock (lowest-RTT sample)
  Nanos uncertainty_ns = 0;  // half that sample's round trip
  Nanos rtt_ns = 0;
};

struct AgentShare {
  AgentClock clock;              // as estimated just before this path's start
  int first_thread = 0, thread_count = 0;
  bool missing = false;          // its results never arrived (lost, failed): not in the merge
  std::string why;               // missing: the reason
  // The start line: how late the agent woke for it (a thread sleeping until the line, measured
  // on its clock; a Start that came after the line shows here too), and how long before the line
  // the Start message arrived (< 0: after it).
  Nanos start_late_ns = 0, start_margin_ns = 0;
  PathRunResult run;             // its own part (phases parallel to the path's plan)
};

struct AgentsPathReport {
  std::string label;             // the path
  Nanos start_line_ns = 0;       // on the coordinator's steady clock
  std::vector<AgentShare> agents;
};

}  // namespace pathbench
