// Objectives ([slo] in a scenario, `pathbench run --fail-if`): the same metrics and the same
// limits in both, checked on every measured (path, phase) row after the run (report/objectives.h).
//
//   [slo]                       for every path
//   p99 = "20ms"                latency objectives: p50 p90 p99 p999 p9999 max mean, a duration
//   error_ratio = 0.001         (errors + timeouts + rejected) / issued, at most this (0..1)
//   min_rate = 900              achieved (ok) requests per second, at least this
//   [slo.grpc_unary_balancer]   the same keys for one path (its label), on top of [slo]'s
//   p99 = "5ms"
//
// --fail-if EXPR: [PATH:]METRIC OP VALUE, e.g. 'p99>20ms', 'error_ratio>0.001',
// 'achieved_rate<900', 'queue_embedded:p50>2ms'. METRIC: an alias (p50 p90 p99 p99.9 p999
// p99.99 p9999 max mean -> <…>_us; achieved_rate offered_rate target_rate -> <…>_per_s;
// error_ratio) or any numeric summary.csv column; OP: > or <; VALUE: a number in the column's
// unit, for a latency also with a unit (ns us ms s: "20ms"), for error_ratio also "0.1%".
// A change against a baseline (+10%, -5) needs `pathbench compare`.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "scenario/scenario.h"

namespace pathbench {

// The summary.csv column a metric name stands for (aliases above; anything else unchanged).
std::string objective_metric(std::string_view name);

// One --fail-if expression, or nullopt with `error` saying what is wrong and how it should look.
// Metric names are checked against summary.csv's columns later (report/objectives.h).
std::optional<Objective> parse_objective(std::string_view text, std::string& error);

namespace scenario_fields {
class TableReader;
// The loader's part (after the [[path]] entries, whose labels [slo.NAME] must match).
void read_slo(TableReader& root, Scenario& scenario);
// The [slo] table as the file wrote it (serialize.cpp), empty when it had none.
nlohmann::json write_slo(const Scenario& scenario);
}  // namespace scenario_fields

}  // namespace pathbench
