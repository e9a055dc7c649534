#include "cli/commands.h"

#include <fmt/format.h>

#include <vector>

#include "paths/registry.h"

namespace pathbench::cli {

std::span<const Command> commands() {
  static const std::vector<Command> table{
      {"run", "run a scenario (a file, or a name from `pathbench scenarios`) and write its results", &run_main},
      {"scenarios", "list the scenarios found by name, with their descriptions", &scenarios_main},
      {"seed", "build the workers' sales database (deterministic: the same --seed, the same rows)", &seed_main},
      {"validate", "check scenario files without running anything", &validate_main},
      {"serve", "run one role alone until SIGINT/SIGTERM: serve worker | balancer | echo | broker", &serve_main},
      {"db", "database schema: `db migrate up|down|status` (SQLite file or postgresql:// URL)", &db_main},
      {"compare", "results folders side by side, change against the first; --fail-if for CI", &compare_main},
      {"agent", "run load for a coordinator's [agents] run until SIGINT/SIGTERM (docs/distributed.md)", &agent_main},
  };
  return table;
}

std::string registered_paths_help() {
  std::string text;
  // One line per route; a kind's first route is its default (what `via` left out picks).
  std::string_view kind;
  for (auto& p : path_registry()) {
    const bool first = p.kind != kind;
    kind = p.kind;
    text += fmt::format("  {:<12} via {:<22} {}\n", first ? p.kind : "", fmt::format("{}{}", p.via, first ? " (default)" : ""),
                        p.summary);
  }
  return text;
}

}  // namespace pathbench::cli
