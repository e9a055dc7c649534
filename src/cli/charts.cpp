#include "cli/charts.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <vector>

extern char** environ;

#ifndef PATHBENCH_SOURCE_DIR
#define PATHBENCH_SOURCE_DIR ""
#endif
#ifndef PATHBENCH_INSTALL_DATADIR
#define PATHBENCH_INSTALL_DATADIR ""
#endif

namespace pathbench::cli {

namespace {

// Runs argv with stdin from /dev/null and stdout/stderr to /dev/null when `silent`; its exit code or -1.
int spawn_and_wait(const std::vector<std::string>& args, bool silent_stdout, bool silent_stderr) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (silent_stdout) posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  if (silent_stderr) posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = args[0].find('/') == std::string::npos
                     ? posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ)
                     : posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::filesystem::path executable_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe.parent_path();
}

bool is_file(const std::filesystem::path& p) {
  std::error_code ec;
  return !p.empty() && std::filesystem::is_regular_file(p, ec);
}

}  // namespace

std::filesystem::path source_dir() {
  std::error_code ec;
  std::filesystem::path dir = PATHBENCH_SOURCE_DIR;
  return !dir.empty() && std::filesystem::is_directory(dir / "scenarios", ec) ? dir : std::filesystem::path();
}

std::filesystem::path installed_share_dir() {
  std::error_code ec;
  if (auto bin = executable_dir(); !bin.empty()) {
    auto next_to_us = bin.parent_path() / "share" / "pathbench";
    if (std::filesystem::is_directory(next_to_us, ec)) return next_to_us;
  }
  std::filesystem::path baked = PATHBENCH_INSTALL_DATADIR;
  if (!baked.empty() && std::filesystem::is_directory(baked, ec)) return baked;
  return {};
}

std::optional<ChartTool> find_chart_tool(std::string& why_not) {
  ChartTool tool;
  // Installed next to this executable first, then the source tree of a build-tree binary.
  std::vector<std::filesystem::path> scripts;
  if (auto bin = executable_dir(); !bin.empty())
    scripts.push_back(bin.parent_path() / "share" / "pathbench" / "scripts" / "charts.py");
  if (auto src = source_dir(); !src.empty()) scripts.push_back(src / "scripts" / "charts.py");
  if (std::string baked = PATHBENCH_INSTALL_DATADIR; !baked.empty())
    scripts.push_back(std::filesystem::path(baked) / "scripts" / "charts.py");
  for (auto& s : scripts)
    if (is_file(s)) {
      tool.script = s;
      break;
    }
  if (tool.script.empty()) {
    why_not = "the chart script (share/pathbench/scripts/charts.py) is not installed";
    return std::nullopt;
  }
  for (std::string python : {"/usr/bin/python3", "python3"}) {
    if (python.front() == '/' && !is_file(python)) continue;
    if (spawn_and_wait({python, "-c", "import matplotlib, numpy"}, true, true) == 0) {
      tool.python = python;
      return tool;
    }
  }
  why_not = "no python3 with matplotlib and numpy (Debian: apt-get install python3-matplotlib python3-numpy)";
  return std::nullopt;
}

int draw_charts(const ChartTool& tool, const std::filesystem::path& results_dir, bool quiet) {
  return spawn_and_wait({tool.python, tool.script.string(), results_dir.string()}, quiet, false);
}

}  // namespace pathbench::cli
