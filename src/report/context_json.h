// context.json's tree (how a run was made: build, machine, library versions, each path's
// endpoint and times, the scenario as run), also embedded in summary.json.
#pragma once
#include <nlohmann/json.hpp>

#include "runner/run_result.h"

namespace pathbench {

// Members keep the order they are written in (build, machine, libraries, paths, the scenario last).
nlohmann::ordered_json context_json(const RunResult& result);

}  // namespace pathbench
