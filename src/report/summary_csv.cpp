#include <fmt/format.h>

#include <algorithm>
#include <fstream>

#include "report/writers.h"

namespace pathbench {

namespace {

class SummaryCsvWriter final : public ResultWriter {
 public:
  std::string_view name() const override { return "summary.csv"; }
  void write(const RunResult& result, const std::filesystem::path& dir) const override {
    auto out = open_output(dir / "summary.csv");
    out << "scenario,path,kind,via,phase,duration_s,target_rate_per_s,offered_rate_per_s,achieved_rate_per_s,"
           "issued,ok,errors,timeouts,rejected";
    for (auto o : kAllOutcomes)
      if (is_error(o)) out << ",err_" << to_string(o);
    out << ",late,p50_us,p90_us,p99_us,p99.9_us,p99.99_us,max_us,mean_us,uncorrected_p50_us,uncorrected_p99_us,"
           "schedule_lag_p99_us,sent_on_time,sent_on_time_rate_per_s,unsent,wakeup_lag_p50_us,wakeup_lag_p99_us";
    for (auto g : kCpuGroupNames) out << ",cpu_" << g << "_us_per_req";
    out << ",cpu_total_us_per_req,accounting_ok,partial,failure";
    // One-way messaging (paths/messaging.h): columns only in a run with such a path (a run without
    // one keeps the file's format), empty on the other paths' rows.
    bool messaging = false;
    for (auto& path : result.paths)
      for (auto& phase : path.phases) messaging = messaging || phase.messaging.present;
    if (messaging)
      out << ",publish_p50_us,publish_p99_us,published,confirmed,consumed,duplicated,lost,expired,backlog_max,drain_s";
    out << '\n';
    // The measured phases in summary_rows' order, for the messaging columns.
    std::vector<const PhaseStats*> stats;
    for (auto& path : result.paths)
      for (std::size_t i = 0; i < path.plan.size(); ++i)
        if (path.plan[i].measured) stats.push_back(i < path.phases.size() ? &path.phases[i] : nullptr);
    std::size_t row = 0;
    for (auto& r : summary_rows(result)) {
      out << fmt::format("{},{},{},{},{},{:.3f},{:.3f},{:.3f},{:.3f},{},{},{},{},{}", csv_field(result.scenario.name),
                         csv_field(r.path), r.kind, r.via, r.phase, r.duration_s, r.target_rate_per_s,
                         r.offered_rate_per_s, r.achieved_rate_per_s, r.issued, r.ok, r.errors, r.timeouts,
                         r.rejected);
      for (auto o : kAllOutcomes)
        if (is_error(o)) out << ',' << r.outcomes[static_cast<std::size_t>(o)];
      out << fmt::format(",{},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f}", r.late, r.p50_us,
                         r.p90_us, r.p99_us, r.p999_us, r.p9999_us, r.max_us, r.mean_us, r.uncorrected_p50_us,
                         r.uncorrected_p99_us, r.lag_p99_us);
      out << fmt::format(",{},{:.3f},{},{:.3f},{:.3f}", r.sent_on_time, r.sent_on_time_rate_per_s, r.unsent,
                         r.wakeup_lag_p50_us, r.wakeup_lag_p99_us);
      for (double cpu : r.cpu_us_per_request) out << fmt::format(",{:.3f}", cpu);
      out << fmt::format(",{:.3f},{},{},{}", r.cpu_total_us_per_request, r.accounting_ok ? "true" : "false",
                         r.partial ? "true" : "false", csv_field(r.failure));
      const PhaseStats* s = row < stats.size() ? stats[row] : nullptr;
      ++row;
      if (!messaging) {
        out << '\n';
      } else if (s && s->messaging.present) {
        const auto& m = s->messaging;
        auto at = [](const Histogram& h, double p) {
          return static_cast<double>(std::min(h.value_at_percentile(p), h.max())) / 1000.0;
        };
        out << fmt::format(",{:.3f},{:.3f},{},{},{},{},{},{},{},{:.3f}\n", at(s->publish_latency, 50),
                           at(s->publish_latency, 99), m.published, m.confirmed, m.consumed, m.duplicated, m.lost,
                           m.expired, m.backlog_max, m.drain_ns < 0 ? -1.0 : static_cast<double>(m.drain_ns) / 1e9);
      } else {
        out << ",,,,,,,,,,\n";
      }
    }
    out.close();
  }
};

}  // namespace

std::unique_ptr<ResultWriter> make_summary_csv_writer() { return std::make_unique<SummaryCsvWriter>(); }

}  // namespace pathbench
