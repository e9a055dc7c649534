#include "report/table.h"

#include <fmt/format.h>

#include <algorithm>

#include "report/writer.h"

namespace pathbench {

std::string format_task_audit(const std::string& label, const TaskAudit& a) {
  std::string out = fmt::format(
      "{}: tasks issued {} -> done {} + received {} + processing {} + failed {}; lost {}; done after timeout {}; "
      "reclaimed {}, redelivered {}; inserts failed {} (busy {})\n",
      label, a.issued, a.done, a.received, a.processing, a.failed, a.lost, a.done_after_timeout, a.reclaimed,
      a.redelivered, a.insert_failed, a.insert_busy);
  if (!a.error.empty()) out += fmt::format("WARNING: {}: the task audit could not finish: {}\n", label, a.error);
  if (a.lost != 0) out += fmt::format("WARNING: {}: {} tasks LOST (issued but missing, or ok but not done)\n", label, a.lost);
  return out;
}

namespace {

// Always µs (the column says so): whole µs from 100 up, one decimal below.
std::string compact(double us) {
  if (us >= 100) return fmt::format("{:.0f}", us);
  return fmt::format("{:.1f}", us);
}

}  // namespace

std::string format_summary_table(const RunResult& result) {
  auto rows = summary_rows(result);
  double floor_p50 = 0;
  for (auto& r : rows)
    if (r.kind == "tcp_echo" && r.ok > 0 && floor_p50 == 0) floor_p50 = r.p50_us;

  std::string out = fmt::format("{:<22} {:<6} {:>10} {:>10} {:>9} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}\n",
                                "path", "phase", "target/s", "achieved/s", "ok", "errors", "timeout", "reject",
                                "p50 us", "p90 us", "p99 us", "p99.9 us", "max us", "xfloor");
  for (auto& r : rows) {
    std::string ratio = floor_p50 > 0 && r.ok > 0 ? fmt::format("{:.2f}", r.p50_us / floor_p50) : "-";
    std::string target = r.target_rate_per_s > 0 ? fmt::format("{:.0f}", r.target_rate_per_s) : "closed";
    // Nothing measured (the path failed, or no request completed ok): no latency to show, not 0.
    const bool measured = r.failure.empty() && r.ok > 0;
    auto lat = [measured](double us) { return measured ? compact(us) : std::string("-"); };
    out += fmt::format("{:<22} {:<6} {:>10} {:>10.1f} {:>9} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}\n",
                       r.path.substr(0, 22), r.phase.substr(0, 6), target, r.achieved_rate_per_s, r.ok, r.errors,
                       r.timeouts, r.rejected, lat(r.p50_us), lat(r.p90_us), lat(r.p99_us), lat(r.p999_us),
                       lat(r.max_us), ratio);
  }
  out += "\n";
  for (auto& line : summary_warnings(result)) out += line + "\n";
  for (auto& line : accounting_lines(result)) out += line + "\n";
  return out;
}

std::vector<std::string> summary_warnings(const RunResult& result) {
  auto rows = summary_rows(result);
  std::vector<std::string> lines;
  // Lateness has two owners. The generator's own (it woke up late, or its thread was busy) is
  // the tool bending the measurement: said for every open-loop phase, loudly past 500 µs. Waiting
  // for a free in-flight slot is the server's doing (it could not keep up): latency still counts
  // from the intended time, and the user should know the cap, not the tool, held requests back.
  for (auto& r : rows) {
    if (r.target_rate_per_s <= 0 || r.issued == 0) continue;
    if (r.wakeup_lag_p99_us > 500)
      lines.push_back(fmt::format("WARNING: {} ({}): the load generator itself sent late (its wake-up lag p50 {:.0f} us, p99 {:.0f} us): "
                         "up to that much of each latency is the tool; more client threads or fewer paths per core may help",
                         r.path, r.phase, r.wakeup_lag_p50_us, r.wakeup_lag_p99_us));
    if (r.lag_p99_us > 1000 && r.lag_p99_us > 2 * r.wakeup_lag_p99_us)
      lines.push_back(fmt::format("NOTE: {} ({}): requests waited for a free in-flight slot (send lag p99 {:.1f} ms, the generator's own "
                         "p99 {:.0f} us): the server did not keep up with `concurrency` in flight; latency counts that wait",
                         r.path, r.phase, r.lag_p99_us / 1000, r.wakeup_lag_p99_us));
  }
  {
    double worst = 0;
    for (auto& r : rows)
      if (r.target_rate_per_s > 0) worst = std::max(worst, r.wakeup_lag_p99_us);
    if (worst > 0) lines.push_back(fmt::format("generator wake-up lag p99 (worst phase): {:.0f} us", worst));
  }
  bool via_balancer = false;
  for (auto& p : result.paths) via_balancer = via_balancer || p.via == "balancer";
  if (via_balancer && !result.scenario.balancer.endpoint.empty())
    lines.push_back(fmt::format("NOTE: no balancer.csv: the balancer is external ({}); its per-worker counts are its own",
                                result.scenario.balancer.endpoint));
  return lines;
}

std::vector<std::string> accounting_lines(const RunResult& result) {
  std::vector<std::string> lines;
  for (auto& p : result.paths) {
    if (!p.failure.empty()) {
      lines.push_back(fmt::format("{}: FAILED: {}", p.label, p.failure));
      continue;
    }
    std::int64_t issued = 0, ok = 0, errors = 0, timeouts = 0, rejected = 0;
    for (std::size_t i = 0; i < p.plan.size(); ++i) {
      if (!p.plan[i].measured) continue;
      issued += p.phases[i].issued;
      ok += p.phases[i].count(Outcome::ok);
      errors += p.phases[i].errors();
      timeouts += p.phases[i].count(Outcome::timeout);
      rejected += p.phases[i].count(Outcome::rejected);
    }
    if (p.knee.searched)
      lines.push_back(fmt::format("{}: knee {:.0f} req/s{}", p.label, p.knee.rate_per_s,
                         p.knee.above_high ? " or more (the highest rate tried held)"
                                           : (p.knee.confirmed ? " (confirmed)" : " (NOT confirmed)")));
    lines.push_back(fmt::format("{}: issued {} = ok {} + errors {} + timeouts {} + rejected {}; in flight after drain {}; "
                       "late {} -> accounting {}{}",
                       p.label, issued, ok, errors, timeouts, rejected, p.in_flight_after_drain, p.late,
                       p.accounting_holds() ? "holds" : "BROKEN", p.interrupted ? " (interrupted: partial)" : ""));
    if (p.tasks) {
      // The audit's lines (and its WARNING, if any) follow the path's accounting line.
      const std::string audit = format_task_audit(p.label, *p.tasks);
      std::size_t begin = 0;
      while (begin < audit.size()) {
        std::size_t end = audit.find('\n', begin);
        if (end == std::string::npos) end = audit.size();
        if (end > begin) lines.push_back(audit.substr(begin, end - begin));
        begin = end + 1;
      }
    }
  }
  return lines;
}

}  // namespace pathbench
