#include "mq/server_programs.h"
#include "runner/server_needs.h"
#include "runner/runner.h"

#include <fmt/format.h>

#include "core/url.h"
#include "db/seeder.h"
#include "runner/dataset.h"
#include "runner/database.h"
#include "runner/knee.h"
#include "paths/registry.h"
#include "runner/agents.h"
#include "runner/faults.h"
#include "runner/phase_cpu.h"
#include "runner/topology.h"

namespace pathbench {

namespace {

bool any_path_queries(const Scenario& scenario, bool local_workers_only) {
  if (scenario.query.point_weight <= 0 && scenario.query.heavy_weight <= 0) return false;
  for (auto& spec : scenario.paths) {
    const PathInfo* info = find_route(spec.kind, spec.via);
    if (info && info->carries_queries && (!local_workers_only || path_uses_local_workers(scenario, spec))) return true;
  }
  return false;
}

}  // namespace

bool scenario_needs_database(const Scenario& scenario) { return any_path_queries(scenario, true); }

bool scenario_uses_database(const Scenario& scenario) { return any_path_queries(scenario, false); }

void ensure_database(const Scenario& scenario, const RunObserver& observer) {
  // PostgreSQL is made ready by prepare_database (runner/database.h), which has the server.
  if (scenario.database.kind == "postgres") return;
  if (!scenario_needs_database(scenario) || std::filesystem::exists(scenario.database.path)) return;
  if (observer.note)
    observer.note(fmt::format("seeding {} ({} sales, seed {})...", scenario.database.path.string(),
                              scenario.database.sales, scenario.seed));
  SeedReport report = seed_database({scenario.database.path, scenario.database.sales, scenario.seed, false});
  if (observer.note) observer.note(fmt::format("seeded {} sales in {:.2f} s", report.sales, report.seconds));
}

namespace {

std::vector<BackendSnapshot> backend_deltas(const std::vector<BackendSnapshot>& before,
                                            std::vector<BackendSnapshot> after) {
  for (std::size_t i = 0; i < after.size() && i < before.size(); ++i) {
    after[i].routed -= before[i].routed;
    after[i].failures -= before[i].failures;
    after[i].ejections -= before[i].ejections;
  }
  return after;
}

// A path's CPU over its run: the samples' difference, with the client group from the load
// generator's threads (they have ended before the after-sample, so they report their own).
CpuSample run_cpu(const CpuSample& before, const CpuSample& after, const CpuSample& from_threads) {
  CpuSample cpu = cpu_delta(before, after);
  cpu.by_group_ns[static_cast<std::size_t>(CpuGroup::client)] +=
      from_threads.by_group_ns[static_cast<std::size_t>(CpuGroup::client)];
  return attribute_remainder(cpu);
}

// A knee search folded into one PathRunResult: each probe becomes a measured phase.
PathRunResult run_knee(const Scenario& scenario, const PathSpec& spec, const PathInfo& info, PathInstance& instance,
                       const std::atomic<bool>& stop, const RunObserver& observer,
                       const std::function<CpuSample()>& sample_all, const DatasetShape* shape) {
  int index = 0;
  // Each probe's own CPU (a probe is one phase of the folded result): the servers' from /proc
  // between probes, the client's from the probe's threads.
  std::vector<CpuSample> probe_cpu;
  CpuSample last = sample_all();
  KneeResult knee = find_knee(scenario, spec, info, instance, scenario.knee, stop, [&](const KneeProbe& p) {
    CpuSample now = sample_all();
    CpuSample delta = cpu_delta(last, now);
    delta.by_group_ns[static_cast<std::size_t>(CpuGroup::client)] =
        p.run.cpu.by_group_ns[static_cast<std::size_t>(CpuGroup::client)];
    probe_cpu.push_back(attribute_remainder(delta));
    last = now;
    ++index;
    if (observer.note)
      observer.note(fmt::format("{}: probe {} at {:.0f} req/s: {}", spec.label, index, p.rate_per_s, p.verdict));
  }, shape);
  PathRunResult path;
  path.label = spec.label;
  path.kind = spec.kind;
  path.via = spec.via;
  path.endpoint = instance.endpoint();
  path.knee.searched = true;
  path.knee.rate_per_s = knee.knee_rate_per_s;
  path.knee.confirmed = knee.confirmed;
  path.knee.above_high = knee.above_high;
  Nanos t = 0;
  for (std::size_t i = 0; i < knee.probes.size(); ++i) {
    auto& p = knee.probes[i];
    if (i == 0) path.started_utc = p.run.started_utc;
    path.finished_utc = p.run.finished_utc;
    if (!p.run.failure.empty() && path.failure.empty()) path.failure = p.run.failure;
    path.plan.push_back({fmt::format("probe{}_{:.0f}", i + 1, p.rate_per_s), t, t + scenario.knee.probe_duration_ns,
                         p.rate_per_s, true, 0});
    t += scenario.knee.probe_duration_ns;
    path.phases.push_back(p.run.phases.empty() ? PhaseStats{} : std::move(p.run.phases.back()));
    if (path.kinds.empty()) path.kinds = p.run.kinds;
    if (p.run.tasks) path.tasks = p.run.tasks;  // each probe's audit covers every probe before it
    path.knee.verdicts.push_back(p.verdict);
    path.late += p.run.late;
    path.in_flight_after_drain += p.run.in_flight_after_drain;
    path.interrupted = path.interrupted || p.run.interrupted;
    path.elapsed_ns += p.run.elapsed_ns;
    path.cpu.by_group_ns[static_cast<std::size_t>(CpuGroup::client)] +=
        p.run.cpu.by_group_ns[static_cast<std::size_t>(CpuGroup::client)];
  }
  if (probe_cpu.size() == path.plan.size()) path.phase_cpu = std::move(probe_cpu);
  if (observer.note)
    observer.note(fmt::format("{}: knee {:.0f} req/s{}{}", spec.label, knee.knee_rate_per_s,
                              knee.above_high ? " (or more: the highest rate tried held)" : "",
                              knee.confirmed ? ", confirmed" : ", NOT confirmed"));
  return path;
}

}  // namespace

RunResult run_scenario(const Scenario& scenario, const std::atomic<bool>& stop, const RunObserver& observer) {
  RunResult result;
  result.scenario = scenario;
  result.machine = collect_machine_context();
  // The private servers' versions belong to the run's context as much as the libraries do.
  for (const ServerNeed& need : servers_needed(scenario)) {
    const bool seen = std::any_of(result.servers.begin(), result.servers.end(),
                                  [&need](const auto& s) { return s.first == need.kind; });
    if (need.missing_program.empty() && !seen) result.servers.emplace_back(need.kind, mq::server_program_version(need.kind));
  }
  result.started_utc = utc_timestamp();
  Topology topology(result.scenario);
  RunDataset dataset(result.scenario);
  if (observer.topology) observer.topology(&topology);
  for (auto& spec : result.scenario.paths) {
    if (stop.load()) {
      result.interrupted = true;
      break;
    }
    const PathInfo* info = find_route(spec.kind, spec.via);  // the loader accepted only registered routes
    PathRunResult path;
    try {
      // Recorded, so load agents ([agents]) can reach the same servers (runner/agents.h).
      RecordingEndpoints endpoints(topology);
      auto instance = info->create(result.scenario, spec, endpoints);
      const DatasetShape* shape = dataset.shape_for(spec, info->carries_queries);
      if (observer.note)
        observer.note(fmt::format("{}: {} at {} for {} after {} warm-up", spec.label,
                                  scenario.load.mode == LoadMode::open
                                      ? fmt::format("{:.0f} req/s {}", scenario.load.rate_per_s, to_string(scenario.load.arrival))
                                      : fmt::format("closed loop, {} in flight", scenario.load.concurrency),
                                  instance->endpoint(),
                                  format_duration(plan_phases(scenario.load).back().end_ns - scenario.load.warmup_ns),
                                  format_duration(scenario.load.warmup_ns)));
      std::vector<BackendSnapshot> before;
      if (topology.balancer()) before = topology.balancer()->stats().backends;
      IntervalCollector::Observer on_second;
      if (observer.second) {
        double total_s = static_cast<double>(plan_phases(scenario.load).back().end_ns) / 1e9;
        on_second = [&observer, label = spec.label, total_s](const IntervalRow& row, const IntervalBucket& bucket) {
          observer.second(label, row, bucket, total_s);
        };
      }
      // Private broker servers are other processes: their CPU counts as broker time (and in the
      // total), or a path over RabbitMQ would look cheaper than one over the embedded broker.
      auto sample_all = [&topology] {
        CpuSample s = sample_cpu();
        const Nanos external = topology.external_cpu_ns();
        s.by_group_ns[static_cast<std::size_t>(CpuGroup::broker)] += external;
        s.process_ns += external;
        // A private PostgreSQL server runs the workers' queries (SQLite runs them in the worker
        // threads): its CPU is worker time, or PostgreSQL would look cheaper than it is.
        const Nanos database = private_database_cpu_ns();
        s.by_group_ns[static_cast<std::size_t>(CpuGroup::worker)] += database;
        s.process_ns += database;
        return s;
      };
      CpuSample cpu_before = sample_all();
      if (scenario.knee.enabled) {
        path = run_knee(result.scenario, spec, *info, *instance, stop, observer, sample_all, shape);
        if (topology.balancer()) path.backends = backend_deltas(before, topology.balancer()->stats().backends);
        path.cpu = run_cpu(cpu_before, sample_all(), path.cpu);
        result.interrupted = result.interrupted || path.interrupted;
        result.paths.push_back(std::move(path));
        continue;
      }
      FaultRunner faults(scenario.faults, topology);
      PhaseCpuSampler phase_cpu(plan_phases(result.scenario.load), sample_all);
      auto on_start = [&faults, &phase_cpu](Nanos start) {
        faults.begin(start);
        phase_cpu.begin(start);
      };
      if (scenario.agents.endpoints.empty())
        path = run_path(result.scenario, spec, info->carries_queries, *instance, stop, std::move(on_second), on_start,
                        shape);
      else
        path = run_path_on_agents(result.scenario, static_cast<std::size_t>(&spec - result.scenario.paths.data()),
                                  instance->endpoint(), endpoints.recorded(), shape, stop, std::move(on_second),
                                  on_start, result.agent_paths.emplace_back(), observer.note);
      faults.finish();
      {
        path.phase_cpu = phase_cpu.finish(path.cpu.by_group_ns[static_cast<std::size_t>(CpuGroup::client)]);
        path.cpu = run_cpu(cpu_before, sample_all(), path.cpu);
      }
      path.faults = faults.events();
      if (!scenario.faults.empty()) topology.restore();  // the next path starts from the same state
      if (topology.balancer()) path.backends = backend_deltas(before, topology.balancer()->stats().backends);
    } catch (const std::exception& e) {
      path.label = spec.label;
      path.kind = spec.kind;
      path.via = spec.via;
      path.failure = redact_urls(e.what());  // results and stdout never hold a secret
      path.plan = plan_phases(scenario.load);
      path.phases.resize(path.plan.size());
    }
    if (!path.failure.empty() && observer.note) observer.note(fmt::format("{}: FAILED: {}", spec.label, path.failure));
    result.interrupted = result.interrupted || path.interrupted;
    result.paths.push_back(std::move(path));
  }
  if (observer.topology) observer.topology(nullptr);  // the topology goes away now
  result.finished_utc = utc_timestamp();
  return result;
}

}  // namespace pathbench
