#include "cli/scenarios.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <map>

#include "cli/charts.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "core/url.h"
#include "paths/registry.h"
#include "scenario/loader.h"

namespace pathbench::cli {

namespace po = boost::program_options;

std::vector<std::filesystem::path> scenario_folders() {
  std::vector<std::filesystem::path> folders;
  std::error_code ec;
  auto add = [&](const std::filesystem::path& dir) {
    if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return;
    auto canonical = std::filesystem::weakly_canonical(dir, ec);
    for (auto& f : folders)
      if (std::filesystem::weakly_canonical(f, ec) == canonical) return;
    folders.push_back(dir);
  };
  add("scenarios");
  if (auto share = installed_share_dir(); !share.empty()) add(share / "scenarios");
  if (auto src = source_dir(); !src.empty()) add(src / "scenarios");
  return folders;
}

std::filesystem::path resolve_scenario(const std::string& arg) {
  std::error_code ec;
  if (arg.find('/') != std::string::npos || std::filesystem::is_regular_file(arg, ec)) return arg;
  std::string name = arg;
  if (name.size() > 5 && name.substr(name.size() - 5) == ".toml") name.resize(name.size() - 5);
  for (auto& dir : scenario_folders())
    if (auto file = dir / (name + ".toml"); std::filesystem::is_regular_file(file, ec)) return file;
  return arg;
}

int scenarios_main(std::span<const std::string> args) {
  po::options_description visible(
      "pathbench scenarios — list the scenarios `pathbench run NAME` finds, with their descriptions\n"
      "searched in order: ./scenarios/, the installed share/pathbench/scenarios/, the source tree's scenarios/");
  visible.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(visible);
  po::positional_options_description positional;
  po::variables_map vm;
  if (int code = parse_options(args, all, positional, vm, visible); code >= 0) return code;

  std::map<std::string, std::filesystem::path> seen;  // name -> the file `run NAME` picks
  auto folders = scenario_folders();
  if (folders.empty()) {
    fmt::print(stderr, "pathbench scenarios: no scenarios folder here (./scenarios) nor installed\n");
    return kExitBadInput;
  }
  for (auto& dir : folders) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (auto& entry : std::filesystem::directory_iterator(dir, ec))
      if (entry.path().extension() == ".toml") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    std::vector<std::string> lines;
    for (auto& file : files) {
      const std::string name = file.stem().string();
      if (seen.count(name)) continue;
      seen[name] = file;
      std::string description;
      try {
        description = load_scenario_file(file).description;
        if (description.empty()) description = "(no description)";
      } catch (const ScenarioError& e) {
        std::string first = redact_urls(e.what());
        description = "(does not load: " + first.substr(0, first.find('\n')) + ")";
      }
      lines.push_back(fmt::format("  {:<16} {}", name, description));
    }
    if (lines.empty()) continue;
    fmt::print("{}:\n", dir.string());
    for (auto& l : lines) fmt::print("{}\n", l);
  }
  fmt::print("\nrun one with: pathbench run NAME (e.g. pathbench run quickstart)\n");
  return kExitOk;
}

}  // namespace pathbench::cli
