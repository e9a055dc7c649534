#include "cli/options.h"

#include <fmt/format.h>

#include <iostream>
#include <vector>

#include "cli/commands.h"

namespace pathbench::cli {

namespace po = boost::program_options;

int parse_options(std::span<const std::string> args, const po::options_description& all,
                  const po::positional_options_description& positional, po::variables_map& vm,
                  const po::options_description& visible, const std::string& extra_help) {
  try {
    std::vector<std::string> argv(args.begin(), args.end());
    po::store(po::command_line_parser(argv).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << visible << extra_help;
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    fmt::print(stderr, "pathbench: {} (see --help)\n", e.what());
    return kExitBadInput;
  }
  return -1;
}

}  // namespace pathbench::cli
