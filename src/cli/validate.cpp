#include <fmt/format.h>

#include <boost/program_options.hpp>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/scenarios.h"
#include "core/url.h"
#include "paths/registry.h"
#include "runner/server_needs.h"
#include "scenario/loader.h"

namespace pathbench::cli {

namespace po = boost::program_options;

int validate_main(std::span<const std::string> args) {
  po::options_description visible("pathbench validate SCENARIO... — check scenario files without running them");
  visible.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(visible).add_options()("scenario", po::value<std::vector<std::string>>(), "");
  po::positional_options_description positional;
  positional.add("scenario", -1);
  po::variables_map vm;
  if (int code = parse_options(args, all, positional, vm, visible); code >= 0) return code;
  if (!vm.count("scenario")) {
    fmt::print(stderr, "pathbench validate: name at least one scenario file\n");
    return kExitBadInput;
  }
  int bad = 0;
  for (auto& file : vm["scenario"].as<std::vector<std::string>>()) {
    try {
      Scenario s = load_scenario_file(resolve_scenario(file));
      fmt::print("{}: ok ({} path{}: ", file, s.paths.size(), s.paths.size() == 1 ? "" : "s");
      for (std::size_t i = 0; i < s.paths.size(); ++i) fmt::print("{}{}", i ? ", " : "", s.paths[i].label);
      fmt::print(")\n");
      // Not an error: the file is right, this machine lacks a server it would start.
      for (const ServerNeed& need : servers_needed(s))
        if (!need.missing_program.empty()) fmt::print(stderr, "{}: WARNING: {}\n", file, missing_server_warning(need));
    } catch (const ScenarioError& e) {
      ++bad;
      fmt::print(stderr, "{}\n", redact_urls(e.what()));
    }
  }
  return bad ? kExitBadInput : kExitOk;
}

}  // namespace pathbench::cli
