#include "report/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace pathbench {

namespace {

constexpr std::string_view kThresholdForm =
    "the form is METRIC>VALUE or METRIC<VALUE with VALUE a percentage change (+10%), a change (+5) or a "
    "value (2000), e.g. 'p99>+10%'";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The whole of `text` as a finite number, or nullopt.
std::optional<double> to_number(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  if (text.front() == '+') text.remove_prefix(1);  // from_chars takes '-' but not '+'
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

// RFC 4180 records: quoted fields may hold commas, doubled quotes and newlines (the failure column does).
std::vector<std::vector<std::string>> parse_csv(std::string_view text, const std::string& source) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty()) {
      quoted = field_started = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      field_started = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (field_started || !field.empty() || !record.empty()) {
        record.push_back(std::move(field));
        records.push_back(std::move(record));
      }
      record.clear();
      field.clear();
      field_started = false;
      ++line;
    } else {
      field += c;
      field_started = true;
    }
  }
  if (quoted) throw CompareError(fmt::format("{}:{}: a quoted field is not closed", source, line));
  if (field_started || !field.empty() || !record.empty()) {
    record.push_back(std::move(field));
    records.push_back(std::move(record));
  }
  return records;
}

const std::map<std::string, std::string, std::less<>>& metric_aliases() {
  static const std::map<std::string, std::string, std::less<>> aliases{
      {"p50", "p50_us"},   {"p90", "p90_us"},     {"p99", "p99_us"},
      {"p99.9", "p99.9_us"}, {"p99.99", "p99.99_us"}, {"max", "max_us"},
      {"mean", "mean_us"}, {"achieved_rate", "achieved_rate_per_s"}, {"offered_rate", "offered_rate_per_s"},
      {"target_rate", "target_rate_per_s"},
  };
  return aliases;
}

// Columns that hold text or flags, never compared as numbers.
bool is_text_column(std::string_view column) {
  return column == "scenario" || column == "path" || column == "kind" || column == "via" || column == "phase" ||
         column == "accounting_ok" || column == "partial" || column == "failure" || column == "request_kind";
}

std::string format_value(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{:.1f}", v);
}

std::string format_change(double baseline, double later) {
  if (baseline == 0 && later != 0) return "(from 0)";
  return fmt::format("({:+.1f}%)", relative_change_percent(baseline, later));
}

}  // namespace

std::optional<std::string_view> SummaryRun::cell(std::size_t row, std::string_view column) const {
  for (std::size_t c = 0; c < columns.size(); ++c)
    if (columns[c] == column) return std::string_view(rows.at(row).at(c));
  return std::nullopt;
}

std::optional<double> SummaryRun::number(std::size_t row, std::string_view column) const {
  auto text = cell(row, column);
  if (!text) return std::nullopt;
  return to_number(*text);
}

SummaryRun parse_summary_csv(std::string_view text, const std::string& source, std::string label, SummaryRows keep) {
  auto records = parse_csv(text, source);
  if (records.empty()) throw CompareError(fmt::format("{}: empty file, expected a summary.csv header", source));
  SummaryRun run;
  run.label = std::move(label);
  run.file = source;
  run.columns = std::move(records.front());
  for (const char* required : {"path", "phase"})
    if (std::find(run.columns.begin(), run.columns.end(), required) == run.columns.end())
      throw CompareError(fmt::format("{}: no '{}' column in the header: is this a pathbench summary.csv?", source,
                                     required));
  std::set<std::vector<std::string>> seen;
  for (std::size_t r = 1; r < records.size(); ++r) {
    if (records[r].size() != run.columns.size())
      throw CompareError(fmt::format("{}: row {} has {} fields, the header has {}", source, r + 1, records[r].size(),
                                     run.columns.size()));
    run.rows.push_back(std::move(records[r]));
    std::size_t row = run.rows.size() - 1;
    // Compare sets paths side by side: a request kind's row or one agent's share is not one.
    auto kind = run.cell(row, "request_kind");
    auto agent = run.cell(row, "agent");
    const bool merged = (!kind || *kind == "all") && (!agent || *agent == "all");
    if (keep == SummaryRows::merged && !merged) {
      run.rows.pop_back();
      continue;
    }
    std::vector<std::string> key{std::string(*run.cell(row, "path")), std::string(*run.cell(row, "phase")),
                                 std::string(kind.value_or("all")), std::string(agent.value_or("all"))};
    if (!seen.insert(key).second)
      throw CompareError(merged ? fmt::format("{}: path '{}' phase '{}' appears twice", source, key[0], key[1])
                                : fmt::format("{}: path '{}' phase '{}' request kind '{}' agent '{}' appears twice",
                                              source, key[0], key[1], key[2], key[3]));
  }
  return run;
}

SummaryRun read_summary_run(const std::filesystem::path& input) {
  std::error_code ec;
  std::filesystem::path file = input;
  if (std::filesystem::is_directory(input, ec)) file = input / "summary.csv";
  if (!std::filesystem::is_regular_file(file, ec)) {
    if (file != input)
      throw CompareError(fmt::format("{}: no summary.csv in this folder (is it a pathbench results folder?)",
                                     input.string()));
    throw CompareError(fmt::format("{}: no such results folder or summary.csv file", input.string()));
  }
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) throw CompareError(fmt::format("{}: cannot read", file.string()));
  // The results folder's name (a UTC time or an --out name) tells the runs apart.
  std::filesystem::path folder = std::filesystem::absolute(file, ec).lexically_normal().parent_path();
  std::string label = folder.filename().string();
  if (label.empty()) label = file.string();
  return parse_summary_csv(text.str(), file.string(), std::move(label));
}

std::vector<SummaryRun> read_summary_runs(const std::vector<std::string>& inputs) {
  std::vector<SummaryRun> runs;
  for (auto& input : inputs) runs.push_back(read_summary_run(input));
  std::map<std::string, int> uses;
  for (auto& r : runs) ++uses[r.label];
  for (std::size_t i = 0; i < runs.size(); ++i)
    if (uses[runs[i].label] > 1) runs[i].label = inputs[i];
  // The same input given twice still needs two names.
  std::map<std::string, int> seen;
  for (auto& r : runs)
    if (int n = ++seen[r.label]; n > 1) r.label += fmt::format(" ({})", n);
  return runs;
}

std::string resolve_metric(std::string_view name) {
  auto& aliases = metric_aliases();
  if (auto it = aliases.find(name); it != aliases.end()) return it->second;
  return std::string(name);
}

Threshold parse_threshold(std::string_view text) {
  auto fail = [&](std::string_view why) {
    return CompareError(fmt::format("bad --fail-if '{}': {}; {}", text, why, kThresholdForm));
  };
  Threshold t;
  t.text = std::string(trim(text));
  std::size_t op = text.find_first_of("<>");
  if (op == std::string_view::npos) throw fail("no '>' or '<'");
  std::string_view metric = trim(text.substr(0, op));
  if (metric.empty()) throw fail("no metric before the comparison");
  for (char c : metric)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'))
      throw fail(fmt::format("'{}' is not a metric name", metric));
  t.metric = resolve_metric(metric);
  t.op = text[op];
  std::string_view value = trim(text.substr(op + 1));
  if (!value.empty() && value.front() == '=') throw fail("only strict '>' and '<' are supported");
  if (value.empty()) throw fail("no value after the comparison");
  bool percent = value.back() == '%';
  if (percent) value = trim(value.substr(0, value.size() - 1));
  bool signed_value = !value.empty() && (value.front() == '+' || value.front() == '-');
  auto number = to_number(value);
  if (!number) throw fail(fmt::format("'{}' is not a number", value));
  t.value = *number;
  t.kind = percent ? ThresholdKind::relative_percent : signed_value ? ThresholdKind::delta : ThresholdKind::absolute;
  return t;
}

void check_threshold_metrics(const std::vector<Threshold>& thresholds, const std::vector<SummaryRun>& runs) {
  auto known = numeric_columns(runs);
  for (auto& t : thresholds) {
    if (std::find(known.begin(), known.end(), t.metric) != known.end()) continue;
    std::string aliases;
    for (auto& [alias, column] : metric_aliases()) aliases += (aliases.empty() ? "" : " ") + alias;
    throw CompareError(fmt::format("bad --fail-if '{}': no run has a numeric column '{}'; use a summary.csv column "
                                   "({}) or an alias ({} ok errors timeouts rejected late issued)",
                                   t.text, t.metric, fmt::join(known, " "), aliases));
  }
}

double relative_change_percent(double baseline, double later) {
  if (baseline == 0) {
    if (later == 0) return 0;
    return later > 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }
  return (later - baseline) / std::fabs(baseline) * 100.0;
}

const std::vector<std::string>& default_compare_metrics() {
  static const std::vector<std::string> metrics{
      "offered_rate_per_s", "achieved_rate_per_s", "ok",       "errors",    "timeouts",  "rejected", "late",
      "p50_us",             "p90_us",              "p99_us",   "p99.9_us",  "p99.99_us", "max_us",   "mean_us"};
  return metrics;
}

std::vector<std::string> numeric_columns(const std::vector<SummaryRun>& runs) {
  std::vector<std::string> columns;
  for (auto& run : runs) {
    for (auto& column : run.columns) {
      if (is_text_column(column) || std::find(columns.begin(), columns.end(), column) != columns.end()) continue;
      bool numeric = true;
      for (std::size_t r = 0; r < run.rows.size() && numeric; ++r) {
        auto text = run.cell(r, column);
        numeric = trim(*text).empty() || to_number(*text).has_value();
      }
      if (numeric) columns.push_back(column);
    }
  }
  return columns;
}

Comparison compare_runs(const std::vector<SummaryRun>& runs, const std::vector<std::string>& metrics) {
  if (runs.size() < 2) throw CompareError("compare needs at least two runs");
  Comparison out;
  for (auto& run : runs) out.labels.push_back(run.label);
  // Row index per run for each (path, phase), keys in order of first appearance.
  std::vector<std::pair<std::string, std::string>> keys;
  std::map<std::pair<std::string, std::string>, std::vector<std::optional<std::size_t>>> where;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    for (std::size_t r = 0; r < runs[i].rows.size(); ++r) {
      std::pair key{std::string(*runs[i].cell(r, "path")), std::string(*runs[i].cell(r, "phase"))};
      auto [it, added] = where.try_emplace(key, runs.size());
      if (added) keys.push_back(key);
      it->second[i] = r;
    }
  }
  for (auto& key : keys) {
    auto& rows = where[key];
    RowComparison row{key.first, key.second, {}, {}, {}};
    for (std::size_t i = 0; i < runs.size(); ++i) {
      row.present.push_back(rows[i].has_value());
      std::string note;
      if (rows[i]) {
        auto failure = runs[i].cell(*rows[i], "failure");
        if (failure && !failure->empty()) {
          note = fmt::format("failed: {}", *failure);
          std::replace(note.begin(), note.end(), '\n', ' ');  // one line in the table
        } else if (runs[i].cell(*rows[i], "partial") == std::optional<std::string_view>("true")) {
          note = "partial";
        } else if (runs[i].cell(*rows[i], "accounting_ok") == std::optional<std::string_view>("false")) {
          note = "accounting broken";
        }
      }
      row.notes.push_back(std::move(note));
    }
    for (auto& metric : metrics) {
      MetricComparison m{metric, {}, {}};
      for (std::size_t i = 0; i < runs.size(); ++i)
        m.values.push_back(rows[i] ? runs[i].number(*rows[i], metric) : std::nullopt);
      for (std::size_t i = 0; i < runs.size(); ++i) {
        if (i == 0 || !m.values[0] || !m.values[i]) m.change_percent.push_back(std::nullopt);
        else m.change_percent.push_back(relative_change_percent(*m.values[0], *m.values[i]));
      }
      row.metrics.push_back(std::move(m));
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

std::vector<Breach> evaluate_thresholds(const std::vector<SummaryRun>& runs, const std::vector<Threshold>& thresholds) {
  std::vector<Breach> breaches;
  for (auto& t : thresholds) {
    Comparison c = compare_runs(runs, {t.metric});
    for (auto& row : c.rows) {
      const MetricComparison& m = row.metrics.front();
      for (std::size_t i = 1; i < runs.size(); ++i) {
        if (!m.values[i]) continue;
        double later = *m.values[i];
        std::optional<double> base = m.values[0];
        double measured = 0;
        switch (t.kind) {
          case ThresholdKind::absolute: measured = later; break;
          case ThresholdKind::delta:
            if (!base) continue;  // a change needs a baseline row
            measured = later - *base;
            break;
          case ThresholdKind::relative_percent:
            if (!base) continue;
            measured = relative_change_percent(*base, later);
            break;
        }
        bool crossed = t.op == '>' ? measured > t.value : measured < t.value;
        if (crossed)
          breaches.push_back(Breach{t.text, row.path, row.phase, t.metric, runs[i].label, base, later,
                                    m.change_percent[i]});
      }
    }
  }
  return breaches;
}

std::string format_comparison(const Comparison& comparison) {
  std::string out;
  const std::size_t runs = comparison.labels.size();
  for (auto& row : comparison.rows) {
    // Cells first, so each column can be as wide as its widest cell.
    std::vector<std::vector<std::string>> table;
    std::vector<std::string> heading{"metric"};
    for (std::size_t i = 0; i < runs; ++i)
      heading.push_back(i == 0 ? fmt::format("{} (baseline)", comparison.labels[i]) : comparison.labels[i]);
    table.push_back(heading);
    for (auto& m : row.metrics) {
      std::vector<std::string> line{m.metric};
      for (std::size_t i = 0; i < runs; ++i) {
        if (!m.values[i]) {
          line.push_back("-");
        } else if (i == 0 || !m.values[0]) {
          line.push_back(format_value(*m.values[i]));
        } else {
          line.push_back(format_value(*m.values[i]) + " " + format_change(*m.values[0], *m.values[i]));
        }
      }
      table.push_back(std::move(line));
    }
    std::vector<std::size_t> width(runs + 1, 0);
    for (auto& line : table)
      for (std::size_t c = 0; c < line.size(); ++c) width[c] = std::max(width[c], line[c].size());

    std::vector<std::string> missing, notes;
    for (std::size_t i = 0; i < runs; ++i) {
      if (!row.present[i]) missing.push_back(comparison.labels[i]);
      if (!row.notes[i].empty()) notes.push_back(fmt::format("{}: {}", comparison.labels[i], row.notes[i]));
    }
    out += fmt::format("{} / {}", row.path, row.phase);
    if (!missing.empty()) out += fmt::format("   (not in {})", fmt::join(missing, ", "));
    out += "\n";
    for (auto& note : notes) out += fmt::format("  note: {}\n", note);
    for (auto& line : table) {
      std::string text = "  " + fmt::format("{:<{}}", line[0], width[0]);
      for (std::size_t c = 1; c < line.size(); ++c) text += fmt::format("   {:<{}}", line[c], width[c]);
      while (!text.empty() && text.back() == ' ') text.pop_back();
      out += text + "\n";
    }
    out += "\n";
  }
  return out;
}

std::string format_breach(const Breach& b) {
  std::string values;
  if (b.baseline) {
    values = fmt::format("{} -> {}", format_value(*b.baseline), format_value(b.value));
    if (b.change_percent) values += " " + format_change(*b.baseline, b.value);
  } else {
    values = fmt::format("{} (no baseline row)", format_value(b.value));
  }
  return fmt::format("FAIL {}: {} / {}: {} {} in {}", b.threshold, b.path, b.phase, b.metric, values, b.run);
}

}  // namespace pathbench
