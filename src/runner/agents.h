// The coordinator side of load agents (docs/distributed.md): with [agents] endpoints, each
// path's load runs on the agents (`pathbench agent`, runner/agent_service.h) instead of here.
//
// Per path: the coordinator has already created the path through a RecordingEndpoints (so its
// Topology started the servers, spawned or external); it estimates each agent's clock offset
// (hello_agents), splits load.threads into contiguous ranges (agent k of A gets T/A threads,
// one more for k < T%A), sends each a RunRequest, waits for every Ready, puts one start line
// start_lead_ns + the largest round trip ahead and sends each agent that line on its own clock
// (line + offset), Pings every ping_interval_ns while the agents run, and merges their exact
// results (PhaseStats::merge) and per-second buckets (an IntervalCollector over the agents).
//
// Failure: an agent that is not heard (no Heartbeat) for lost_after_ns, whose stream breaks, or
// that has not reported by the end of the plan + deadline + lost_after_ns, is lost: its share is
// missing (AgentShare::missing), the merged result carries a failure naming it (the run exits 1)
// and a WARNING is printed; the run never waits longer than that. Runs on the runner's thread.
#pragma once
#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "measure/interval.h"
#include "measure/load_generator.h"
#include "paths/registry.h"
#include "runner/agent_report.h"
#include "runner/agent_wire.h"

namespace pathbench {

struct AgentsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Hello each agent `samples` times: its version must equal `expected_version` (else AgentsError
// naming the agent and both versions); its clock offset is taken from the lowest round trip.
// Throws AgentsError when an agent does not answer within `timeout_ns`.
std::vector<AgentClock> hello_agents(const std::vector<std::string>& endpoints, const std::string& expected_version,
                                     Nanos timeout_ns = 3 * kNanosPerSecond, int samples = 8);

struct AgentsRunOptions {
  Nanos ping_interval_ns = 250 * kNanosPerMilli;
  Nanos lost_after_ns = 2 * kNanosPerSecond;
  Nanos start_lead_ns = 500 * kNanosPerMilli;
  // How long the agents may take to make the path and connect before the start is called off
  // (added to load.deadline).
  Nanos ready_grace_ns = 10 * kNanosPerSecond;
};

// Runs path `path_index` of `scenario` on its agents and returns the merged result (label, plan,
// phases, counters, intervals). `endpoints`: what the coordinator's RecordingEndpoints recorded
// (agent_wire.h). `report` receives each agent's part. `note` (may be empty) gets progress lines.
PathRunResult run_path_on_agents(const Scenario& scenario, std::size_t path_index, const std::string& endpoint,
                                 const v1::ResolvedEndpoints& endpoints, const DatasetShape* shape,
                                 const std::atomic<bool>& stop, IntervalCollector::Observer on_second,
                                 const std::function<void(Nanos)>& on_start, AgentsPathReport& report,
                                 const std::function<void(const std::string&)>& note,
                                 const AgentsRunOptions& options = {});

}  // namespace pathbench
