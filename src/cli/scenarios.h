// Scenarios by name: `pathbench run queue` finds queue.toml in ./scenarios/, then in the installed
// share folder (<bin>/../share/pathbench/scenarios, or the prefix baked in at build time), then
// in the source tree this binary was built from. `pathbench scenarios` lists them with their
// `description` key (every shipped scenario has one).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace pathbench::cli {

// The folders searched for scenarios by name, in order (only those that exist).
std::vector<std::filesystem::path> scenario_folders();

// `arg` itself when it names a file (or holds a '/'); else NAME or NAME.toml in scenario_folders().
// When nothing matches, returns `arg` unchanged (the loader then says it cannot open it).
std::filesystem::path resolve_scenario(const std::string& arg);

}  // namespace pathbench::cli
