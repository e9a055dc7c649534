// Reads a scenario file (TOML, via toml++) strictly into a Scenario.
// Every problem is reported as FILE:LINE:COL with the key path, what was expected and what
// was found; all problems in a file are collected before giving up. Nothing starts on error.
#pragma once
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "scenario/scenario.h"

namespace pathbench {

struct Diagnostic {
  std::string file;
  int line = 0;    // 1-based; 0 when there is no position (command line)
  int column = 0;
  std::string message;
  std::string format() const;  // "file:line:col: message"
};

class ScenarioError : public std::runtime_error {
 public:
  explicit ScenarioError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const noexcept { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// The path kinds a scenario may name and the routes (`via`) each supports, the first being
// the default. The loader sits below the paths it describes: the path registry
// (paths/registry.h) supplies this list, and its overloads of the two functions below pass it.
struct PathKind {
  std::string_view kind;
  std::vector<std::string_view> vias;
};
using PathKinds = std::span<const PathKind>;

// Throws ScenarioError (bad content) — also for a missing or unreadable file.
Scenario load_scenario_file(const std::filesystem::path& file, PathKinds kinds);
// `source_name` stands in for the file name in messages.
Scenario load_scenario_text(std::string_view toml_text, const std::string& source_name, PathKinds kinds);

// Command-line overrides of `pathbench run`, validated like the file ("<command line>" positions).
struct ScenarioOverrides {
  std::optional<std::string> duration;
  std::optional<std::string> warmup;
  std::optional<double> rate_per_s;
  std::optional<int> threads;
  std::optional<int> concurrency;
};
void apply_overrides(Scenario& scenario, const ScenarioOverrides& overrides);

// The scenario as run, every field explicit (defaults included), as TOML text and as JSON.
// User info in a URL (a broker password) is written as "***": these texts are stored and printed.
std::string scenario_to_toml(const Scenario& scenario);
std::string scenario_to_json(const Scenario& scenario);

}  // namespace pathbench
