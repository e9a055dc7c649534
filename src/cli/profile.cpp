#include "cli/profile.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <fmt/format.h>

#include <cstdlib>
#include <system_error>

#if PATHBENCH_HAVE_PROFILER
#include <gperftools/profiler.h>
#endif

extern char** environ;

namespace pathbench::cli {

namespace {

std::string safe_name(const std::string& name) {
  std::string out = name.empty() ? "process" : name;
  for (char& c : out)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      c = '_';
  return out;
}

// The directory of PATH holding `program`, or "" (the same lookup posix_spawnp does).
bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::size_t at = 0;
  while (at <= dirs.size()) {
    std::size_t end = dirs.find(':', at);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(at, end - at) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return true;
    at = end + 1;
  }
  return false;
}

// Runs argv with stdout into `out_file` (stderr discarded); true when it exited 0 and wrote something.
bool run_into(const std::vector<std::string>& argv, const std::filesystem::path& out_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Default signal handling and no blocked signals in the child: google-pprof (perl) waits for
  // the tools it runs, which an inherited ignored SIGCHLD would break.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return false;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::error_code ec;
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && std::filesystem::file_size(out_file, ec) > 0 && !ec;
  if (!ok) std::filesystem::remove(out_file, ec);
  return ok;
}

}  // namespace

bool profiler_built_in() noexcept {
#if PATHBENCH_HAVE_PROFILER
  return true;
#else
  return false;
#endif
}

CpuProfiler::CpuProfiler(std::filesystem::path dir) : dir_(std::move(dir)) {
  if (!profiler_built_in())
    problems_.push_back("--profile: this build has no CPU profiler (install libgoogle-perftools-dev and rebuild)");
}

CpuProfiler::~CpuProfiler() { stop(); }

void CpuProfiler::start(const std::string& name) {
  std::lock_guard lock(mu_);
#if PATHBENCH_HAVE_PROFILER
  if (!current_.empty()) ProfilerStop();
  current_.clear();
  const std::filesystem::path file = dir_ / fmt::format("profile_{}.prof", safe_name(name));
  if (ProfilerStart(file.c_str())) {
    current_ = name;
    written_.push_back(file);
  } else {
    problems_.push_back(fmt::format("--profile: cannot start the CPU profiler into {}", file.string()));
  }
#else
  (void)name;
#endif
}

void CpuProfiler::stop() {
  std::lock_guard lock(mu_);
#if PATHBENCH_HAVE_PROFILER
  if (!current_.empty()) ProfilerStop();
#endif
  current_.clear();
}

std::string CpuProfiler::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::vector<std::filesystem::path> CpuProfiler::written() const {
  std::lock_guard lock(mu_);
  return written_;
}

std::vector<std::string> CpuProfiler::render() const {
  std::vector<std::string> notes;
  const auto files = written();
  if (files.empty()) return notes;
  if (!on_path("google-pprof")) {
    notes.push_back("profile: google-pprof is missing (Debian package google-perftools): no top functions or call graph; "
                    "the .prof files are still readable by `go tool pprof`");
    return notes;
  }
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  const bool have_dot = on_path("dot");
  if (!have_dot) notes.push_back("profile: graphviz's `dot` is missing (apt-get install graphviz): no SVG call graph");
  for (const auto& prof : files) {
    std::filesystem::path base = prof;
    base.replace_extension();
    const std::filesystem::path top = base.string() + ".top.txt", svg = base.string() + ".svg";
    if (run_into({"google-pprof", "--text", "--lines", "--nodecount=40", self, prof.string()}, top) ||
        run_into({"google-pprof", "--text", self, prof.string()}, top))
      notes.push_back(fmt::format("profile: {} (top functions)", top.string()));
    else
      notes.push_back(fmt::format("profile: google-pprof --text failed on {} (too few samples?)", prof.string()));
    if (have_dot && run_into({"google-pprof", "--svg", self, prof.string()}, svg))
      notes.push_back(fmt::format("profile: {} (call graph)", svg.string()));
  }
  return notes;
}

}  // namespace pathbench::cli
