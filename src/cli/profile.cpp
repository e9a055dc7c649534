#include "cli/profile.h"
#include "build_info.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <dlfcn.h>

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
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

namespace {

// tcmalloc's heap profiler (gperftools/heap-profiler.h), found in the process: present only when
// libtcmalloc is its allocator.
struct HeapApi {
  void (*start)(const char*) = nullptr;
  void (*stop)() = nullptr;
  void (*dump)(const char*) = nullptr;
  explicit operator bool() const noexcept { return start && stop && dump; }
};

HeapApi heap_api() {
  HeapApi api;
  api.start = reinterpret_cast<void (*)(const char*)>(dlsym(RTLD_DEFAULT, "HeapProfilerStart"));
  api.stop = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "HeapProfilerStop"));
  api.dump = reinterpret_cast<void (*)(const char*)>(dlsym(RTLD_DEFAULT, "HeapProfilerDump"));
  return api;
}

constexpr const char* kReexecMarker = "PATHBENCH_HEAP_PROFILE_REEXEC";

}  // namespace

std::string reexec_with_tcmalloc() {
  if (std::getenv(kReexecMarker)) {
    // The re-executed process: tcmalloc is in (or the preload failed); children get no preload.
    unsetenv("LD_PRELOAD");
    unsetenv(kReexecMarker);
    return heap_api() ? "" : "--heap-profile: tcmalloc was preloaded but its heap profiler is not in the process";
  }
  if (heap_api()) return "";
  // A sanitizer's runtime must be the first library loaded and owns malloc: tcmalloc cannot be
  // preloaded in front of it (the process would refuse to start).
  if (build::sanitized)
    return "--heap-profile: a sanitizer build cannot take tcmalloc (the sanitizer owns the allocator): no heap "
           "profile; use a Release build";
  std::string library;
  for (const char* candidate : {"/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4", "/usr/lib/aarch64-linux-gnu/libtcmalloc.so.4",
                                "/usr/lib/libtcmalloc.so.4"})
    if (access(candidate, R_OK) == 0) library = candidate;
  if (library.empty()) return "--heap-profile: libtcmalloc.so.4 not found (Debian package libgoogle-perftools4): no heap profile";
  std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> argv;
  for (std::string arg; std::getline(cmdline, arg, '\0');) argv.push_back(arg);
  if (argv.empty()) return "--heap-profile: cannot read /proc/self/cmdline";
  std::vector<char*> pointers;
  for (auto& a : argv) pointers.push_back(a.data());
  pointers.push_back(nullptr);
  const char* preload = std::getenv("LD_PRELOAD");
  setenv("LD_PRELOAD", (preload && *preload ? library + ":" + preload : library).c_str(), 1);
  setenv(kReexecMarker, "1", 1);
  // Dumps only when asked (at each path's end), not every 1 GB allocated / 100 MB in use.
  setenv("HEAP_PROFILE_ALLOCATION_INTERVAL", "0", 1);
  setenv("HEAP_PROFILE_INUSE_INTERVAL", "0", 1);
  std::fflush(stdout);
  execv("/proc/self/exe", pointers.data());
  const std::string why = std::strerror(errno);
  unsetenv(kReexecMarker);
  preload ? setenv("LD_PRELOAD", preload, 1) : unsetenv("LD_PRELOAD");
  return "--heap-profile: cannot re-execute with tcmalloc: " + why;
}

HeapProfiler::HeapProfiler(std::filesystem::path dir) : dir_(std::move(dir)) {
  if (!heap_api()) problems_.push_back("--heap-profile: tcmalloc's heap profiler is not in this process: no heap profile");
}

HeapProfiler::~HeapProfiler() { stop(); }

void HeapProfiler::start(const std::string& name) {
  const HeapApi api = heap_api();
  std::lock_guard lock(mu_);
  if (!api) return;
  if (!current_.empty()) {
    api.dump("end");
    api.stop();
  }
  current_ = name;
  names_.push_back(safe_name(name));
  api.start((dir_ / fmt::format("heap_{}", names_.back())).c_str());
}

void HeapProfiler::stop() {
  const HeapApi api = heap_api();
  std::lock_guard lock(mu_);
  if (api && !current_.empty()) {
    api.dump("end");
    api.stop();
  }
  current_.clear();
}

std::string HeapProfiler::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::vector<std::string> HeapProfiler::render() const {
  std::vector<std::string> notes;
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    names = names_;
  }
  if (names.empty()) return notes;
  const bool pprof = on_path("google-pprof");
  if (!pprof) notes.push_back("heap profile: google-pprof is missing (Debian package google-perftools): no top functions");
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  for (const auto& name : names) {
    // The last dump of this profile: heap_<name>.NNNN.heap, highest NNNN.
    std::filesystem::path last;
    for (auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      const std::string file = entry.path().filename().string();
      if (file.rfind("heap_" + name + ".", 0) == 0 && entry.path().extension() == ".heap" &&
          file.size() == name.size() + 15 && (last.empty() || entry.path() > last))
        last = entry.path();
    }
    if (last.empty()) {
      notes.push_back(fmt::format("heap profile: no dump of {} was written", name));
      continue;
    }
    notes.push_back(fmt::format("heap profile: {}", last.string()));
    if (!pprof) continue;
    const std::filesystem::path inuse = dir_ / fmt::format("heap_{}.top.txt", name),
                                alloc = dir_ / fmt::format("heap_{}.alloc.top.txt", name);
    if (run_into({"google-pprof", "--text", "--inuse_space", self, last.string()}, inuse))
      notes.push_back(fmt::format("heap profile: {} (in use at the end)", inuse.string()));
    if (run_into({"google-pprof", "--text", "--alloc_space", self, last.string()}, alloc))
      notes.push_back(fmt::format("heap profile: {} (allocated during the path)", alloc.string()));
  }
  return notes;
}

}  // namespace pathbench::cli
