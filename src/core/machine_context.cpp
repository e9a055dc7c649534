#include "core/machine_context.h"

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <boost/version.hpp>
#include <fstream>
#include <thread>
#include <toml++/toml.h>

#include "build_info.h"

namespace pathbench {

namespace {

// The value of the first "key : value" line of a /proc file whose key starts with `key`.
std::string proc_field(const char* file, std::string_view key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    return value;
  }
  return "unknown";
}

}  // namespace

MachineContext collect_machine_context() {
  MachineContext c;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) c.hostname = host;
  c.cpu_model = proc_field("/proc/cpuinfo", "model name");
  c.cores = static_cast<int>(std::thread::hardware_concurrency());
  utsname u{};
  if (uname(&u) == 0) c.kernel = fmt::format("{} {} {}", u.sysname, u.release, u.machine);
  c.memory_total = proc_field("/proc/meminfo", "MemTotal");
  c.git_commit = build::git_commit;
  c.build_type = build::build_type;
  c.compiler = build::compiler;
  c.sanitized = build::sanitized;
  c.libraries = {
      {"boost", fmt::format("{}.{}.{}", BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100)},
      {"sqlite", sqlite3_libversion()},
      {"fmt", fmt::format("{}.{}.{}", FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100)},
      {"tomlplusplus", fmt::format("{}.{}.{}", TOML_LIB_MAJOR, TOML_LIB_MINOR, TOML_LIB_PATCH)},
  };
  return c;
}

std::string build_warning(const MachineContext& c) {
  if (c.release_build()) return "";
  return fmt::format(
      "***************************************************************\n"
      "*** WARNING: this is a {}{} build: its numbers are not   ***\n"
      "*** representative. Build with -DCMAKE_BUILD_TYPE=Release.  ***\n"
      "***************************************************************",
      c.build_type.empty() ? "unspecified" : c.build_type, c.sanitized ? " + sanitizer" : "");
}

}  // namespace pathbench
