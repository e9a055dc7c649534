// Subcommands of the `pathbench` executable. Each takes the arguments after its name and
// returns the process exit code: 0 success, 1 a run that failed, 2 bad input (CLI or scenario),
// 3 a run that crossed an objective.
#pragma once
#include <span>
#include <string>
#include <string_view>

namespace pathbench::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRunFailed = 1;
inline constexpr int kExitBadInput = 2;
// The run went well (every request accounted for, results written) but crossed an objective
// ([slo] or --fail-if).
inline constexpr int kExitObjectiveCrossed = 3;

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*main)(std::span<const std::string> args);
};

std::span<const Command> commands();

int run_main(std::span<const std::string> args);
int seed_main(std::span<const std::string> args);
int db_main(std::span<const std::string> args);  // cli/db.cpp
int validate_main(std::span<const std::string> args);
int serve_main(std::span<const std::string> args);
int compare_main(std::span<const std::string> args);
int agent_main(std::span<const std::string> args);
int scenarios_main(std::span<const std::string> args);

// The list of registered paths for --help texts.
std::string registered_paths_help();

}  // namespace pathbench::cli
