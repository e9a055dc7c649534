// Checking a run against its objectives (scenario [slo] and `run --fail-if`, scenario/slo.h):
// every objective on every measured (path, phase) row it covers, from summary.csv's own cells, so
// the check and the files cannot disagree. A path that failed is not checked (the run already
// fails, exit 1); a row where nothing completed ok crosses every latency and rate objective
// (there is no latency to meet them with).
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "runner/run_result.h"

namespace pathbench {

struct ObjectiveCheck {
  Objective objective;
  std::string path, phase;
  std::optional<double> value;  // nullopt: nothing completed, so no latency
  bool crossed = false;
};

// Every (objective, row) pair checked, in objective then row order.
std::vector<ObjectiveCheck> check_objectives(const RunResult& result);

// Throws std::invalid_argument naming the objective when its metric is not a numeric summary.csv
// column (nor error_ratio) or its path is not one of the scenario's labels. Run before any load.
void validate_objectives(const Scenario& scenario);

// "OBJECTIVE CROSSED: grpc_unary_balancer (main): p99_us = 23456.0 us, objective p99 <= 20ms [scenario.toml:12:1]"
std::string format_crossed(const ObjectiveCheck& check);

}  // namespace pathbench
