// The one table of request paths: one row per route, i.e. per (kind, via). Adding a route = one
// file pair in src/paths/ (or a row reusing a kind's create function) + one row in registry.cpp;
// scenario validation, `--help` and the loopback tests all loop over this table.
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
  std::string_view via;                   // the route; a kind's first row is its default route
  std::string_view summary;               // one line for --help and docs
  bool carries_queries = true;            // false: transport floor, the query mix is not used
  // Makes the route's client side, starting through `endpoints` the servers it needs (throws
  // std::runtime_error with a readable reason on failure). Called from the runner's thread.
  std::unique_ptr<PathInstance> (*create)(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) = nullptr;
};

// Every route, the rows of one kind adjacent, its default route first.
std::span<const PathInfo> path_registry();
// The row for `kind` routed by `via` (an empty `via` = the kind's default), or nullptr.
const PathInfo* find_route(std::string_view kind, std::string_view via) noexcept;
// The rows of one kind, default route first (empty for an unknown kind).
std::span<const PathInfo> routes_of(std::string_view kind) noexcept;

// The registry's kinds and routes, for the scenario loader; and the loader's entry points
// with them filled in (what every caller but a loader test wants).
PathKinds path_kinds();
Scenario load_scenario_file(const std::filesystem::path& file);
Scenario load_scenario_text(std::string_view toml_text, const std::string& source_name);

}  // namespace pathbench
