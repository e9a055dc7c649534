// The context recorded with every run (Google Benchmark prints the same before any number):
// the machine, the build and the libraries, so a result can be judged and reproduced.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace pathbench {

struct MachineContext {
  std::string hostname;
  std::string cpu_model;
  int cores = 0;
  std::string kernel;
  std::string memory_total;
  std::string git_commit;
  std::string build_type;
  std::string compiler;
  bool sanitized = false;
  std::vector<std::pair<std::string, std::string>> libraries;  // name, version

  bool release_build() const noexcept { return build_type == "Release" && !sanitized; }
};

MachineContext collect_machine_context();

// A loud multi-line warning when numbers come from a build that is not worth measuring, else "".
std::string build_warning(const MachineContext& context);

}  // namespace pathbench
