#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "report/writers.h"

namespace pathbench {

namespace {

// The text of summary.csv. summary.json is built from this same text (report/summary_json.cpp),
// so a column added here appears in both.
void write_summary_csv(const RunResult& result, std::ostream& out) {
    out << "scenario,path,kind,via,phase,duration_s,target_rate_per_s,offered_rate_per_s,achieved_rate_per_s,"
           "issued,ok,errors,timeouts,rejected";
    for (auto o : kAllOutcomes)
      if (is_error(o)) out << ",err_" << to_string(o);
    out << ",late,p50_us,p90_us,p99_us,p99.9_us,p99.99_us,max_us,mean_us,uncorrected_p50_us,uncorrected_p99_us,"
           "schedule_lag_p99_us,sent_on_time,sent_on_time_rate_per_s,unsent,wakeup_lag_p50_us,wakeup_lag_p99_us";
    for (auto g : kCpuGroupNames) out << ",cpu_" << g << "_us_per_req";
    out << ",cpu_total_us_per_req,accounting_ok,partial,failure\n";
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
      out << fmt::format(",{:.3f},{},{},{}\n", r.cpu_total_us_per_request, r.accounting_ok ? "true" : "false",
                         r.partial ? "true" : "false", csv_field(r.failure));
    }
}

class SummaryCsvWriter final : public ResultWriter {
 public:
  std::string_view name() const override { return "summary.csv"; }
  void write(const RunResult& result, const std::filesystem::path& dir) const override {
    auto out = open_output(dir / "summary.csv");
    write_summary_csv(result, out);
    out.close();
  }
};

}  // namespace

std::string summary_csv_text(const RunResult& result) {
  std::ostringstream out;
  write_summary_csv(result, out);
  return out.str();
}

std::unique_ptr<ResultWriter> make_summary_csv_writer() { return std::make_unique<SummaryCsvWriter>(); }

}  // namespace pathbench
