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

std::string compact(double us) {
  if (us >= 100000) return fmt::format("{:.0f}ms", us / 1000);
  if (us >= 10000) return fmt::format("{:.1f}ms", us / 1000);
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
    out += fmt::format("{:<22} {:<6} {:>10} {:>10.1f} {:>9} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}\n",
                       r.path.substr(0, 22), r.phase.substr(0, 6), target, r.achieved_rate_per_s, r.ok, r.errors,
                       r.timeouts, r.rejected, compact(r.p50_us), compact(r.p90_us), compact(r.p99_us),
                       compact(r.p999_us), compact(r.max_us), ratio);
  }
  out += "\n";
  // Lateness has two owners. The generator's own (it woke up late, or its thread was busy) is
  // the tool bending the measurement: said for every open-loop phase, loudly past 500 µs. Waiting
  // for a free in-flight slot is the server's doing (it could not keep up): latency still counts
  // from the intended time, and the user should know the cap, not the tool, held requests back.
  for (auto& r : rows) {
    if (r.target_rate_per_s <= 0 || r.issued == 0) continue;
    if (r.wakeup_lag_p99_us > 500)
      out += fmt::format("WARNING: {} ({}): the load generator itself sent late (its wake-up lag p50 {:.0f} us, p99 {:.0f} us): "
                         "up to that much of each latency is the tool; more client threads or fewer paths per core may help\n",
                         r.path, r.phase, r.wakeup_lag_p50_us, r.wakeup_lag_p99_us);
    if (r.lag_p99_us > 1000 && r.lag_p99_us > 2 * r.wakeup_lag_p99_us)
      out += fmt::format("NOTE: {} ({}): requests waited for a free in-flight slot (send lag p99 {:.1f} ms, the generator's own "
                         "p99 {:.0f} us): the server did not keep up with `concurrency` in flight; latency counts that wait\n",
                         r.path, r.phase, r.lag_p99_us / 1000, r.wakeup_lag_p99_us);
  }
  {
    double worst = 0;
    for (auto& r : rows)
      if (r.target_rate_per_s > 0) worst = std::max(worst, r.wakeup_lag_p99_us);
    if (worst > 0) out += fmt::format("generator wake-up lag p99 (worst phase): {:.0f} us\n", worst);
  }
  for (auto& p : result.paths) {
    if (!p.failure.empty()) {
      out += fmt::format("{}: FAILED: {}\n", p.label, p.failure);
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
      out += fmt::format("{}: knee {:.0f} req/s{}\n", p.label, p.knee.rate_per_s,
                         p.knee.above_high ? " or more (the highest rate tried held)"
                                           : (p.knee.confirmed ? " (confirmed)" : " (NOT confirmed)"));
    out += fmt::format("{}: issued {} = ok {} + errors {} + timeouts {} + rejected {}; in flight after drain {}; "
                       "late {} -> accounting {}{}\n",
                       p.label, issued, ok, errors, timeouts, rejected, p.in_flight_after_drain, p.late,
                       p.accounting_holds() ? "holds" : "BROKEN", p.interrupted ? " (interrupted: partial)" : "");
    if (p.tasks) out += format_task_audit(p.label, *p.tasks);
  }
  return out;
}

}  // namespace pathbench
