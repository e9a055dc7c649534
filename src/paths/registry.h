// The one table of request paths. Adding a path = one file pair in src/paths/ + one row in
// registry.cpp; scenario validation, `--help` and the loopback tests all loop over this table.
#pragma once
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "paths/path.h"

namespace pathbench {

class Topology;

struct PathInfo {
  std::string_view kind;
  std::string_view summary;               // one line for --help and docs
  std::vector<std::string_view> vias;     // supported routes; the first is the default
  bool carries_queries = true;            // false: transport floor, the query mix is not used
  // Makes the path's client side, starting through `topology` the servers it needs (throws
  // std::runtime_error with a readable reason on failure).
  std::unique_ptr<PathInstance> (*create)(const Scenario& scenario, const PathSpec& spec, Topology& topology) = nullptr;
};

std::span<const PathInfo> path_registry();
const PathInfo* find_path(std::string_view kind) noexcept;

}  // namespace pathbench
