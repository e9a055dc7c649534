// pathbench: parse the command line's first word and hand the rest to that subcommand.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "build_info.h"
#include "cli/commands.h"
#include "mq/supervisor.h"

namespace {

void print_usage() {
  fmt::print(
      "pathbench {} — one clock, the same query, every request path (RPC vs messaging)\n\n"
      "usage: pathbench <command> [options]   (pathbench <command> --help for its options)\n\ncommands:\n",
      pathbench::build::version);
  for (auto& c : pathbench::cli::commands()) fmt::print("  {:<10} {}\n", c.name, c.summary);
  fmt::print("\nrequest paths:\n{}\nexit codes: 0 success, 1 a run that failed, 2 bad input (nothing started), 3 a run that crossed an objective\n  ([slo] or run --fail-if; the run itself was fine), 130 a second Ctrl-C\n",
             pathbench::cli::registered_paths_help());
}

}  // namespace

int main(int argc, char** argv) {
  // A private broker's supervisor is this program again (mq/supervisor.h).
  if (int status = pathbench::mq::supervise_main(argc, argv); status >= 0) return status;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage();
    return args.empty() ? pathbench::cli::kExitBadInput : pathbench::cli::kExitOk;
  }
  if (args[0] == "--version") {
    fmt::print("pathbench {} (commit {}, {} build, {})\n", pathbench::build::version, pathbench::build::git_commit,
               pathbench::build::build_type, pathbench::build::compiler);
    return 0;
  }
  for (auto& c : pathbench::cli::commands()) {
    if (c.name == args[0]) return c.main(std::span<const std::string>(args).subspan(1));
  }
  fmt::print(stderr, "pathbench: unknown command '{}' (try pathbench --help)\n", args[0]);
  return pathbench::cli::kExitBadInput;
}
