#include "scenario/slo.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <tuple>

#include "scenario/fields.h"

namespace pathbench {

namespace {

bool is_latency(std::string_view metric) {
  return metric.size() > 3 && metric.substr(metric.size() - 3) == "_us";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::optional<double> plain_number(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

std::string objective_metric(std::string_view name) {
  static const std::pair<std::string_view, std::string_view> kAliases[] = {
      {"p50", "p50_us"},       {"p90", "p90_us"},       {"p99", "p99_us"},           {"p99.9", "p99.9_us"},
      {"p999", "p99.9_us"},    {"p99.99", "p99.99_us"}, {"p9999", "p99.99_us"},      {"max", "max_us"},
      {"mean", "mean_us"},     {"achieved_rate", "achieved_rate_per_s"},              {"min_rate", "achieved_rate_per_s"},
      {"offered_rate", "offered_rate_per_s"},           {"target_rate", "target_rate_per_s"}};
  for (auto& [alias, column] : kAliases)
    if (alias == name) return std::string(column);
  return std::string(name);
}

std::optional<Objective> parse_objective(std::string_view text, std::string& error) {
  const std::string kShape = "expected [PATH:]METRIC OP VALUE such as 'p99>20ms', 'error_ratio>0.001' or 'achieved_rate<900'";
  Objective o;
  o.text = std::string(trim(text));
  const auto op_at = text.find_first_of("<>");
  if (op_at == std::string_view::npos || text.find_first_of("<>", op_at + 1) != std::string_view::npos) {
    error = fmt::format("--fail-if '{}': {}", text, kShape);
    return std::nullopt;
  }
  o.op = text[op_at];
  std::string_view left = trim(text.substr(0, op_at)), value = trim(text.substr(op_at + 1));
  if (auto colon = left.find(':'); colon != std::string_view::npos) {
    o.path = std::string(trim(left.substr(0, colon)));
    left = trim(left.substr(colon + 1));
  }
  if (left.empty() || value.empty() || (o.path.empty() && left.size() != trim(text.substr(0, op_at)).size())) {
    error = fmt::format("--fail-if '{}': {}", text, kShape);
    return std::nullopt;
  }
  o.metric = objective_metric(left);
  if (value.front() == '+' || value.front() == '-') {
    error = fmt::format("--fail-if '{}': a change ({}) needs a baseline run: use `pathbench compare BASELINE RUN --fail-if`; "
                        "here VALUE is the run's own limit, e.g. 'p99>20ms'", text, value);
    return std::nullopt;
  }
  if (auto v = plain_number(value)) {
    o.limit = *v;
  } else if (o.metric == "error_ratio" && value.back() == '%' && plain_number(value.substr(0, value.size() - 1))) {
    o.limit = *plain_number(value.substr(0, value.size() - 1)) / 100.0;
  } else if (Nanos ns = 0; is_latency(o.metric) && parse_duration(value, ns)) {
    o.limit = static_cast<double>(ns) / 1000.0;
  } else {
    error = fmt::format("--fail-if '{}': VALUE '{}' is not {}", text, value,
                        is_latency(o.metric) ? "a latency such as 20ms, 500us or a number of µs"
                        : o.metric == "error_ratio" ? "a ratio such as 0.001 or 0.1%"
                                                    : "a number in the column's unit");
    return std::nullopt;
  }
  if (o.limit < 0 || (o.metric == "error_ratio" && o.limit > 1)) {
    error = fmt::format("--fail-if '{}': VALUE out of range{}", text, o.metric == "error_ratio" ? " (0..1)" : " (>= 0)");
    return std::nullopt;
  }
  return o;
}

namespace scenario_fields {

namespace {

void read_objectives(const toml::table& table, const std::string& path, Reporter& reporter, std::vector<Objective>& out,
                     const std::vector<std::string>& labels, bool top) {
  TableReader r(table, path.empty() ? "slo" : "slo." + path, reporter);
  static const std::string_view kLatency[] = {"p50", "p90", "p99", "p999", "p9999", "max", "mean"};
  // Every key is known up front, so a misspelt one gets "did you mean".
  for (auto key : kLatency) r.node(key);
  r.node("error_ratio");
  r.node("min_rate");
  for (auto [key, node] : table) {
    const std::string name(key.str());
    auto add = [&](std::string metric, char op, double limit, std::string text) {
      Objective o{path, std::move(metric), op, limit, std::move(text),
                  static_cast<int>(node.source().begin.line), static_cast<int>(node.source().begin.column)};
      out.push_back(std::move(o));
    };
    if (std::find(std::begin(kLatency), std::end(kLatency), name) != std::end(kLatency)) {
      r.node(name);
      Nanos ns = 0;
      auto s = node.as_string();
      if (!s || !parse_duration(s->get(), ns) || ns == 0) {
        r.error(node, name, "a duration > 0 such as \"20ms\"");
        continue;
      }
      add(objective_metric(name), '>', static_cast<double>(ns) / 1000.0, fmt::format("{} <= {}", name, s->get()));
    } else if (name == "error_ratio" || name == "min_rate") {
      r.node(name);
      auto v = detail::as_number(node);
      const bool ratio = name == "error_ratio";
      if (!v || *v < 0 || (ratio && *v > 1) || (!ratio && *v <= 0)) {
        r.error(node, name, ratio ? "a number in 0..1 such as 0.001" : "a number of requests per second > 0");
        continue;
      }
      if (ratio) add("error_ratio", '>', *v, fmt::format("error_ratio <= {}", *v));
      else add("achieved_rate_per_s", '<', *v, fmt::format("min_rate {}/s", *v));
    } else if (top && node.is_table()) {
      r.node(name);
      if (std::find(labels.begin(), labels.end(), name) == labels.end()) {
        reporter.error(node.source(), fmt::format("slo.{}: no path is labelled '{}' (paths: {})", name, name,
                                                  fmt::join(labels, ", ")));
        continue;
      }
      read_objectives(*node.as_table(), name, reporter, out, labels, false);
    }
  }
  r.reject_unknown_keys();
}

}  // namespace

void read_slo(TableReader& root, Scenario& scenario) {
  const toml::table* slo = root.table("slo");
  if (!slo) return;
  std::vector<std::string> labels;
  for (auto& p : scenario.paths) labels.push_back(p.label);
  const auto first = scenario.objectives.size();
  read_objectives(*slo, "", root.reporter(), scenario.objectives, labels, true);
  // toml++ keeps a table's keys sorted: put the objectives back in the order the file has them.
  std::stable_sort(scenario.objectives.begin() + static_cast<std::ptrdiff_t>(first), scenario.objectives.end(),
                   [](const Objective& a, const Objective& b) { return std::tie(a.line, a.column) < std::tie(b.line, b.column); });
}

nlohmann::json write_slo(const Scenario& scenario) {
  nlohmann::json slo = nlohmann::json::object();
  for (auto& o : scenario.objectives) {
    if (o.line == 0) continue;  // --fail-if: not part of the file
    nlohmann::json& table = o.path.empty() ? slo : slo[o.path];
    if (o.metric == "error_ratio") table["error_ratio"] = o.limit;
    else if (o.metric == "achieved_rate_per_s") table["min_rate"] = o.limit;
    else {
      std::string key = o.metric.substr(0, o.metric.size() - 3);  // p99_us -> p99
      key.erase(std::remove(key.begin(), key.end(), '.'), key.end());  // p99.9 -> p999
      table[key] = format_duration(static_cast<Nanos>(std::llround(o.limit * 1000.0)));
    }
  }
  return slo;
}

}  // namespace scenario_fields

}  // namespace pathbench
