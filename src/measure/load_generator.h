// The one load generator: drives a path's clients from a schedule, times every request from
// its intended send time, enforces deadlines, and accounts for every request.
//
// Threads: run_path() starts load.threads client threads, each with its own io_context,
// PathClient, recorder and random generator; they connect, wait at a common start line,
// run the phases, drain, and are joined before their recorders are merged. run_path()
// itself blocks the calling thread until all of that is over.
#pragma once
#include <atomic>
#include <functional>
#include <optional>
#include <cstdint>
#include <string>
#include <vector>

#include "db/catalog.h"
#include "measure/cpu.h"
#include "measure/interval.h"
#include "measure/path_client.h"
#include "measure/recorder.h"
#include "measure/schedule.h"
#include "roles/balancer_core.h"
#include "scenario/scenario.h"

namespace pathbench {

struct PathRunResult {
  std::string label, kind, via, endpoint;
  std::vector<PhasePlan> plan;
  std::vector<PhaseStats> phases;      // parallel to plan, merged over threads
  // Names of the request kinds, indexes into each PhaseStats::kinds (empty: no per-kind results).
  std::vector<std::string> kinds;
  std::optional<TaskAudit> tasks;      // the path's audit after the drain (the task path)
  std::int64_t late = 0;               // replies that arrived after their request timed out (or unmatched)
  std::int64_t in_flight_after_drain = 0;
  bool interrupted = false;            // stopped early by a signal: results are partial
  Nanos stopped_at_ns = -1;            // interrupted: when issuing stopped, from the start line
  std::string failure;                 // non-empty: the path could not run (e.g. connect failed)
  std::string started_utc, finished_utc;
  Nanos elapsed_ns = 0;                // from the common start line to the end of the drain
  // The balancer's per-worker counters over this path's run (routed, failures and ejections
  // are differences over the run; in_flight and ejected as at the end). Empty without balancer.
  std::vector<BackendSnapshot> backends;
  std::vector<IntervalRow> intervals;  // per second since the start line (timeseries.csv)
  struct FaultEvent {
    Nanos at_ns = 0;             // when it was done, from the start line
    std::string what;            // e.g. "kill_worker(1)"
    Nanos ejected_after_ns = -1; // kill: until the balancer had ejected the worker (-1: not seen / no balancer)
  };
  std::vector<FaultEvent> faults;
  CpuSample cpu;  // CPU used by role over this path's run (warm-up and drain included)
  // The same per phase, parallel to plan (the last phase includes the drain); empty when not
  // sampled (then only `cpu` is known).
  std::vector<CpuSample> phase_cpu;
  // A knee search ([knee]): each probe is one measured phase of this result, in run order.
  struct Knee {
    bool searched = false;
    double rate_per_s = 0;  // the highest sustainable rate found (0: not even the lowest)
    bool confirmed = false, above_high = false;
    std::vector<std::string> verdicts;  // per probe, parallel to the measured phases
  } knee;

  // How long phase `phase` actually ran: its planned length, or up to stopped_at_ns when the
  // run was cut (0 for a phase that never began). Every rate of a phase divides by this.
  Nanos ran_ns(std::size_t phase) const noexcept;

  // issued = ok + errors + timeouts + rejected for every phase, nothing in flight after the drain,
  // and no task lost (the task path's audit).
  bool accounting_holds() const noexcept;
};

// Which of the scenario's load.threads client threads this process runs, and how it picks the
// start line (load agents: runner/agent_service.h). Thread i keeps its schedule and its share of
// the concurrency whatever the range, so the union of disjoint ranges is exactly the load one
// generator running all threads would make.
struct LoadShare {
  int first_thread = 0;
  int thread_count = -1;  // < 0: every thread from first_thread on
  // Called once every thread of the range has connected (on the calling thread, only when none
  // failed): returns the steady-clock start line, or a value < 0 to start nothing (the result
  // then says why in `failure`, from `abort_reason`). Empty: a few ms from now.
  std::function<Nanos()> choose_start;
  std::string abort_reason = "the start was called off";
};

// Blocks until the run of this path is over. `stop` is polled (a signal handler sets it):
// when it turns true, issuing stops, in-flight requests drain within their deadline, and the
// result is marked interrupted. `on_second` (optional) sees each completed second as it ends,
// on whichever client thread completed it (for live progress; keep it quick).
// `on_start` (optional) is told the common start line (steady clock ns) as soon as it is set,
// on the calling thread; faults are timed from it.
// `carries_queries`: the path sends the scenario's query mix (false: a transport floor, echo only).
// `shape`: the dataset the point and heavy queries draw from (the runner's: read locally or told
// by an external worker); null reads it from scenario.database.path.
// `share`: a range of the threads and a start-line chooser (null: every thread, start now).
PathRunResult run_path(const Scenario& scenario, const PathSpec& spec, bool carries_queries, PathInstance& instance,
                       const std::atomic<bool>& stop, IntervalCollector::Observer on_second = {},
                       const std::function<void(Nanos)>& on_start = {}, const DatasetShape* shape = nullptr,
                       const LoadShare* share = nullptr);

// The most requests one open-loop client thread keeps in flight, whatever `concurrency` says:
// twice its share of the peak rate times the deadline, plus 64 for bursts. More than that could
// only be replies past their deadline; the cap keeps a huge `concurrency` from handing the
// transport an unbounded pile of calls. What is due while the cap is full waits in the
// schedule's backlog (no memory) and, past its deadline, counts as an unsent timeout.
std::uint32_t open_loop_in_flight_cap(const std::vector<PhasePlan>& plan, const LoadConfig& load);

// ISO-8601 UTC timestamp of the wall clock, e.g. "2026-11-22T05:01:02Z" (for result files only).
std::string utc_timestamp(bool compact = false);

}  // namespace pathbench
