// summary.json: summary.csv's rows as JSON objects (built from the same text, so every column
// summary.csv has is here under the same name), plus the context, the warnings, the accounting
// lines, the knee answers and the objectives. Schema: docs/results.md.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <charconv>
#include <set>

#include "report/compare.h"
#include "report/context_json.h"
#include "report/objectives.h"
#include "report/table.h"
#include "report/writers.h"

namespace pathbench {

namespace {

using Json = nlohmann::ordered_json;

// A column's unit from its name's suffix (the naming rule of summary.csv), "" for counts and text.
std::string unit_of(std::string_view column) {
  auto ends = [&](std::string_view suffix) {
    return column.size() >= suffix.size() && column.substr(column.size() - suffix.size()) == suffix;
  };
  if (ends("_us_per_req")) return "us per completed request";
  if (ends("_us")) return "us";
  if (ends("_per_s")) return "1/s";
  if (ends("_s")) return "s";
  return "";
}

// A column is a number when every non-empty cell is one, a boolean when every cell is true/false;
// otherwise text. Empty cells of a numeric column are null.
enum class ColumnType { integer, number, boolean, text };

ColumnType column_type(const SummaryRun& run, std::size_t column) {
  static const std::set<std::string_view> kText{"scenario", "path", "kind", "via", "phase", "request_kind", "failure", "agent"};
  const std::string& name = run.columns[column];
  if (kText.count(name)) return ColumnType::text;
  bool numbers = true, integers = true, booleans = true;
  for (std::size_t r = 0; r < run.rows.size(); ++r) {
    const std::string& cell = run.rows[r][column];
    booleans = booleans && (cell == "true" || cell == "false");
    numbers = numbers && (cell.empty() || run.number(r, name).has_value());
    integers = integers && cell.find_first_not_of("-0123456789") == std::string::npos;
  }
  if (booleans && !run.rows.empty()) return ColumnType::boolean;
  // Counts are written without a decimal point; rates and latencies always with one.
  if (numbers && integers) return ColumnType::integer;
  return numbers ? ColumnType::number : ColumnType::text;
}

Json rows_json(const SummaryRun& run) {
  std::vector<ColumnType> types;
  for (std::size_t c = 0; c < run.columns.size(); ++c) types.push_back(column_type(run, c));
  Json rows = Json::array();
  for (std::size_t r = 0; r < run.rows.size(); ++r) {
    Json row = Json::object();
    for (std::size_t c = 0; c < run.columns.size(); ++c) {
      const std::string& cell = run.rows[r][c];
      switch (types[c]) {
        case ColumnType::integer:
          if (std::int64_t v = 0; !cell.empty() && std::from_chars(cell.data(), cell.data() + cell.size(), v).ec == std::errc())
            row[run.columns[c]] = v;
          else
            row[run.columns[c]] = nullptr;
          break;
        case ColumnType::number:
          if (auto v = run.number(r, run.columns[c])) row[run.columns[c]] = *v;
          else row[run.columns[c]] = nullptr;
          break;
        case ColumnType::boolean: row[run.columns[c]] = cell == "true"; break;
        case ColumnType::text: row[run.columns[c]] = cell; break;
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Json knee_json(const RunResult& result) {
  Json knees = Json::array();
  for (auto& p : result.paths) {
    if (!p.knee.searched) continue;
    knees.push_back(Json{{"path", p.label},
                         {"rate_per_s", p.knee.rate_per_s},
                         {"confirmed", p.knee.confirmed},
                         {"at_least", p.knee.above_high}});
  }
  return knees;
}

Json objectives_json(const RunResult& result) {
  Json checks = Json::array();
  for (auto& c : check_objectives(result)) {
    checks.push_back(Json{{"objective", c.objective.text},
                          {"from", c.objective.line > 0 ? "scenario" : "--fail-if"},
                          {"path", c.path},
                          {"phase", c.phase},
                          {"metric", c.objective.metric},
                          {"op", std::string(1, c.objective.op)},
                          {"limit", c.objective.limit},
                          {"value", c.value ? Json(*c.value) : Json(nullptr)},
                          {"crossed", c.crossed}});
  }
  return checks;
}

class SummaryJsonWriter final : public ResultWriter {
 public:
  std::string_view name() const override { return "summary.json"; }
  void write(const RunResult& result, const std::filesystem::path& dir) const override {
    SummaryRun run = parse_summary_csv(summary_csv_text(result), "summary.csv", "run", SummaryRows::every);
    Json columns = Json::array();
    for (auto& c : run.columns) columns.push_back(Json{{"name", c}, {"unit", unit_of(c)}});
    Json doc{{"schema", "pathbench.summary/1"},
             {"scenario", result.scenario.name},
             {"partial", result.interrupted},
             {"columns", std::move(columns)},
             {"rows", rows_json(run)},
             {"warnings", summary_warnings(result)},
             {"accounting", accounting_lines(result)},
             {"knee", knee_json(result)},
             {"objectives", objectives_json(result)},
             {"context", context_json(result)}};
    auto out = open_output(dir / "summary.json");
    out << doc.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
    out.close();
  }
};

}  // namespace

std::unique_ptr<ResultWriter> make_summary_json_writer() { return std::make_unique<SummaryJsonWriter>(); }

}  // namespace pathbench
