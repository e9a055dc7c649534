#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "report/writers.h"

namespace pathbench {

namespace {

// [agents]: each agent's own rows, labelled with its endpoint in the `agent` column (the merged
// rows say "all"). A missing agent's rows are zeros, partial, with the reason as the failure.
std::vector<std::pair<std::string, SummaryRow>> agent_rows(const RunResult& result) {
  std::vector<std::pair<std::string, SummaryRow>> rows;
  for (auto& path : result.agent_paths) {
    for (auto& share : path.agents) {
      RunResult one;
      one.scenario = result.scenario;
      one.interrupted = result.interrupted;
      one.paths.push_back(share.run);
      for (auto& r : summary_rows(one)) {
        r.partial = r.partial || share.missing;
        // Its share of the target: its threads' part of the schedule.
        r.target_rate_per_s *= static_cast<double>(share.thread_count) / std::max(result.scenario.load.threads, 1);
        rows.emplace_back(share.clock.endpoint, std::move(r));
      }
    }
  }
  return rows;
}

// The text of summary.csv. summary.json is built from this same text (report/summary_json.cpp),
// so a column added here appears in both.
void write_summary_csv(const RunResult& result, std::ostream& out) {
    out << "scenario,path,kind,via,phase,request_kind,duration_s,target_rate_per_s,offered_rate_per_s,achieved_rate_per_s,"
           "issued,ok,errors,timeouts,rejected";
    for (auto o : kAllOutcomes)
      if (is_error(o)) out << ",err_" << to_string(o);
    out << ",late,p50_us,p90_us,p99_us,p99.9_us,p99.99_us,max_us,mean_us,uncorrected_p50_us,uncorrected_p99_us,"
           "schedule_lag_p99_us,sent_on_time,sent_on_time_rate_per_s,unsent,wakeup_lag_p50_us,wakeup_lag_p99_us";
    for (auto g : kCpuGroupNames) out << ",cpu_" << g << "_us_per_req";
    const bool agents = !result.scenario.agents.endpoints.empty();
    out << ",cpu_total_us_per_req,accounting_ok,partial,failure";
    // One-way messaging (paths/messaging.h): columns only in a run with such a path (a run without
    // one keeps the file's format), filled on a messaging path's merged rows, empty elsewhere.
    bool messaging = false;
    for (auto& path : result.paths)
      for (auto& phase : path.phases) messaging = messaging || phase.messaging.present;
    if (messaging)
      out << ",publish_p50_us,publish_p99_us,published,confirmed,consumed,duplicated,lost,expired,backlog_max,drain_s";
    out << (agents ? ",agent\n" : "\n");
    // The phase a merged, all-kinds row was made from (for the messaging columns).
    auto stats_of = [&result](const SummaryRow& r) -> const PhaseStats* {
      for (auto& path : result.paths) {
        if (path.label != r.path) continue;
        for (std::size_t i = 0; i < path.plan.size() && i < path.phases.size(); ++i)
          if (path.plan[i].measured && path.plan[i].name == r.phase) return &path.phases[i];
      }
      return nullptr;
    };
    auto messaging_cells = [&](const std::string& agent, const SummaryRow& r) -> std::string {
      if (!messaging) return {};
      const PhaseStats* s = agent == "all" && r.request_kind == "all" ? stats_of(r) : nullptr;
      if (!s || !s->messaging.present) return ",,,,,,,,,,";
      const auto& m = s->messaging;
      auto at = [](const Histogram& h, double p) {
        return static_cast<double>(std::min(h.value_at_percentile(p), h.max())) / 1000.0;
      };
      return fmt::format(",{:.3f},{:.3f},{},{},{},{},{},{},{},{:.3f}", at(s->publish_latency, 50),
                         at(s->publish_latency, 99), m.published, m.confirmed, m.consumed, m.duplicated, m.lost,
                         m.expired, m.backlog_max, m.drain_ns < 0 ? -1.0 : static_cast<double>(m.drain_ns) / 1e9);
    };
    std::vector<std::pair<std::string, SummaryRow>> rows;
    for (auto& r : summary_rows_with_kinds(result)) rows.emplace_back("all", std::move(r));
    if (agents) {
      // A path whose agents were not all there is partial in its merged rows too.
      for (auto& [agent, r] : rows)
        for (auto& path : result.agent_paths)
          for (auto& share : path.agents)
            if (path.label == r.path && share.missing) r.partial = true;
      for (auto& row : agent_rows(result)) rows.push_back(std::move(row));
    }
    const auto end_of_row = [&](const std::string& agent, const SummaryRow& r) {
      return messaging_cells(agent, r) + (agents ? "," + csv_field(agent) + "\n" : std::string("\n"));
    };
    for (auto& [agent, r] : rows) {
      const bool per_kind = r.request_kind != "all";
      // No request completed ok (or the path failed): no latency was measured, so its cells
      // are empty rather than a 0 that reads as "instant" (the stdout table shows "-").
      const bool measured = r.failure.empty() && r.ok > 0;
      auto us = [measured](double v) { return measured ? fmt::format("{:.3f}", v) : std::string(); };
      out << fmt::format("{},{},{},{},{},{},{:.3f},{},{:.3f},{:.3f},{},{},{},{},{}", csv_field(result.scenario.name),
                         csv_field(r.path), r.kind, r.via, r.phase, r.request_kind, r.duration_s,
                         per_kind ? std::string() : fmt::format("{:.3f}", r.target_rate_per_s),
                         r.offered_rate_per_s, r.achieved_rate_per_s, r.issued, r.ok, r.errors, r.timeouts,
                         r.rejected);
      for (auto o : kAllOutcomes)
        if (is_error(o)) out << ',' << r.outcomes[static_cast<std::size_t>(o)];
      if (per_kind) {
        // Kept for the path as a whole only: empty, never a made-up 0 (see SummaryRow).
        out << fmt::format(",,{},{},{},{},{},{},{},,,,,,,,", us(r.p50_us), us(r.p90_us), us(r.p99_us),
                           us(r.p999_us), us(r.p9999_us), us(r.max_us), us(r.mean_us));
        for (std::size_t g = 0; g < r.cpu_us_per_request.size(); ++g) out << ',';
        out << fmt::format(",,{},{},{}", r.accounting_ok ? "true" : "false", r.partial ? "true" : "false",
                           csv_field(r.failure));
        out << end_of_row(agent, r);
        continue;
      }
      out << fmt::format(",{},{},{},{},{},{},{},{},{},{},{:.3f}", r.late, us(r.p50_us), us(r.p90_us), us(r.p99_us),
                         us(r.p999_us), us(r.p9999_us), us(r.max_us), us(r.mean_us), us(r.uncorrected_p50_us),
                         us(r.uncorrected_p99_us), r.lag_p99_us);
      out << fmt::format(",{},{:.3f},{},{:.3f},{:.3f}", r.sent_on_time, r.sent_on_time_rate_per_s, r.unsent,
                         r.wakeup_lag_p50_us, r.wakeup_lag_p99_us);
      // Per request: with no request there is nothing to divide by.
      auto per_req = [&r](double v) { return r.issued > 0 ? fmt::format("{:.3f}", v) : std::string(); };
      for (double cpu : r.cpu_us_per_request) out << ',' << per_req(cpu);
      out << fmt::format(",{},{},{},{}", per_req(r.cpu_total_us_per_request), r.accounting_ok ? "true" : "false",
                         r.partial ? "true" : "false", csv_field(r.failure));
      out << end_of_row(agent, r);
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
