// The one table of request paths. Adding a path = one file pair in src/paths/ + one row in
// registry.cpp; scenario validation, `--help` and the loopback tests all loop over this table.
#pragma once
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "measure/path_client.h"
#include "paths/endpoints.h"
#include "scenario/loader.h"

namespace pathbench {

struct PathInfo {
  std::string_view kind;
  std::string_view summary;               // one line for --help and docs
  std::vector<std::string_view> vias;     // supported routes; the first is the default
  bool carries_queries = true;            // false: transport floor, the query mix is not used
  // Makes the path's client side, starting through `endpoints` the servers it needs (throws
  // std::runtime_error with a readable reason on failure).
  std::unique_ptr<PathInstance> (*create)(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) = nullptr;
};

std::span<const PathInfo> path_registry();
const PathInfo* find_path(std::string_view kind) noexcept;

// The registry's kinds and routes, for the scenario loader; and the loader's entry points
// with them filled in (what every caller but a loader test wants).
PathKinds path_kinds();
Scenario load_scenario_file(const std::filesystem::path& file);
Scenario load_scenario_text(std::string_view toml_text, const std::string& source_name);

}  // namespace pathbench
