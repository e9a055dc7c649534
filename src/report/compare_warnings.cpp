#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "report/compare.h"

namespace pathbench {

namespace {

// The generator's own lateness above which the run's summary warns (report/table.cpp).
constexpr double kGeneratorLateUs = 500;

std::string machine_of(const std::filesystem::path& summary_csv) {
  std::ifstream in(summary_csv.parent_path() / "context.json");
  if (!in) return "";
  auto doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("machine") || !doc["machine"].is_object()) return "";
  const auto& m = doc["machine"];
  auto text = [&m](const char* key) -> std::string {
    if (!m.contains(key)) return "?";
    return m[key].is_string() ? m[key].get<std::string>() : m[key].dump();
  };
  return fmt::format("{} ({}, {} cores)", text("hostname"), text("cpu_model"), text("cores"));
}

}  // namespace

std::vector<std::string> comparison_warnings(const std::vector<SummaryRun>& runs) {
  std::vector<std::string> lines;
  if (runs.empty()) return lines;
  auto scenario_of = [](const SummaryRun& run) {
    return run.rows.empty() ? std::string() : std::string(run.cell(0, "scenario").value_or(""));
  };
  const std::string base_scenario = scenario_of(runs[0]);
  const std::string base_machine = machine_of(runs[0].file);
  for (std::size_t i = 1; i < runs.size(); ++i) {
    if (auto s = scenario_of(runs[i]); s != base_scenario)
      lines.push_back(fmt::format("WARNING: {} ran scenario '{}', the baseline '{}': the loads may differ", runs[i].label, s,
                                  base_scenario));
    if (auto m = machine_of(runs[i].file); !m.empty() && !base_machine.empty() && m != base_machine)
      lines.push_back(fmt::format("WARNING: {} ran on {}, the baseline on {}: differences may be the machine's",
                                  runs[i].label, m, base_machine));
  }
  for (auto& run : runs) {
    double worst = 0;
    for (std::size_t r = 0; r < run.rows.size(); ++r) worst = std::max(worst, run.number(r, "wakeup_lag_p99_us").value_or(0));
    if (worst > kGeneratorLateUs)
      lines.push_back(fmt::format("WARNING: in {} the load generator itself fell behind (wake-up lag p99 up to {:.0f} us): "
                                  "its latencies include up to that much of the tool's own delay",
                                  run.label, worst));
  }
  return lines;
}

}  // namespace pathbench
