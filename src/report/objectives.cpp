#include "report/objectives.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "report/compare.h"
#include "report/writer.h"

namespace pathbench {

namespace {

bool is_latency(const std::string& metric) { return metric.size() > 3 && metric.substr(metric.size() - 3) == "_us"; }

std::optional<double> error_ratio(const SummaryRun& run, std::size_t row) {
  auto issued = run.number(row, "issued");
  if (!issued || *issued <= 0) return std::nullopt;
  double failed = 0;
  for (const char* c : {"errors", "timeouts", "rejected"}) failed += run.number(row, c).value_or(0);
  return failed / *issued;
}

}  // namespace

std::vector<ObjectiveCheck> check_objectives(const RunResult& result) {
  std::vector<ObjectiveCheck> checks;
  if (result.scenario.objectives.empty()) return checks;
  SummaryRun run = parse_summary_csv(summary_csv_text(result), "summary.csv", "run");
  for (auto& o : result.scenario.objectives) {
    for (std::size_t r = 0; r < run.rows.size(); ++r) {
      const std::string path(run.cell(r, "path").value_or(""));
      if (!o.path.empty() && o.path != path) continue;
      if (!run.cell(r, "failure").value_or("").empty()) continue;
      ObjectiveCheck c{o, path, std::string(run.cell(r, "phase").value_or("")), std::nullopt, false};
      const bool nothing_ok = run.number(r, "ok").value_or(0) <= 0;
      if (o.metric == "error_ratio") c.value = error_ratio(run, r);
      else if (!(nothing_ok && is_latency(o.metric))) c.value = run.number(r, o.metric);
      if (c.value) c.crossed = o.op == '>' ? *c.value > o.limit : *c.value < o.limit;
      else c.crossed = o.metric != "error_ratio";  // no latency at all: not met
      checks.push_back(std::move(c));
    }
  }
  return checks;
}

void validate_objectives(const Scenario& scenario) {
  RunResult empty;
  SummaryRun run = parse_summary_csv(summary_csv_text(empty), "summary.csv", "run");
  static const std::vector<std::string> kText{"scenario", "path", "kind", "via", "phase", "failure", "accounting_ok",
                                              "partial"};
  std::vector<std::string> numeric;
  for (auto& c : run.columns)
    if (std::find(kText.begin(), kText.end(), c) == kText.end()) numeric.push_back(c);
  std::vector<std::string> labels;
  for (auto& p : scenario.paths) labels.push_back(p.label);
  for (auto& o : scenario.objectives) {
    if (o.metric != "error_ratio" && std::find(numeric.begin(), numeric.end(), o.metric) == numeric.end())
      throw std::invalid_argument(fmt::format(
          "--fail-if '{}': no metric '{}'; use an alias (p50 p90 p99 p99.9 p99.99 max mean achieved_rate error_ratio) "
          "or a numeric summary.csv column: {}",
          o.text, o.metric, fmt::join(numeric, " ")));
    if (!o.path.empty() && std::find(labels.begin(), labels.end(), o.path) == labels.end())
      throw std::invalid_argument(fmt::format("--fail-if '{}': no path labelled '{}' in this scenario (paths: {})", o.text,
                                              o.path, fmt::join(labels, ", ")));
  }
}

std::string format_crossed(const ObjectiveCheck& c) {
  const Objective& o = c.objective;
  std::string value = !c.value ? "nothing completed ok"
                      : is_latency(o.metric) ? fmt::format("{} = {:.1f} us", o.metric, *c.value)
                                             : fmt::format("{} = {:.6g}", o.metric, *c.value);
  std::string limit = is_latency(o.metric) ? fmt::format("{:.1f} us", o.limit) : fmt::format("{:.6g}", o.limit);
  std::string where = o.line > 0 ? fmt::format(" [[slo] at line {}:{}]", o.line, o.column) : " [--fail-if]";
  return fmt::format("OBJECTIVE CROSSED: {} ({}): {}, must not be {} {} (objective: {}){}", c.path, c.phase, value,
                     o.op == '>' ? "above" : "below", limit, o.text, where);
}

}  // namespace pathbench
