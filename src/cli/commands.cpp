#include "cli/commands.h"

#include <fmt/format.h>

#include <vector>

#include "paths/registry.h"

namespace pathbench::cli {

std::span<const Command> commands() {
  static const std::vector<Command> table{
      {"run", "run a scenario file and write its results", &run_main},
      {"seed", "build the sales database deterministically from a seed", &seed_main},
      {"validate", "check scenario files without running anything", &validate_main},
      {"serve", "run one role (worker, balancer, echo) alone until SIGINT/SIGTERM", &serve_main},
      {"compare", "results folders side by side, change against the first; --fail-if for CI", &compare_main},
  };
  return table;
}

std::string registered_paths_help() {
  std::string text;
  for (auto& p : path_registry())
    text += fmt::format("  {:<12} {} (via: {})\n", p.kind, p.summary, fmt::join(p.vias, ", "));
  return text;
}

}  // namespace pathbench::cli
