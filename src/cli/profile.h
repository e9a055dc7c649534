// CPU profiles of the whole process, with gperftools' profiler (libprofiler, Debian
// libgoogle-perftools-dev), for `pathbench run --profile` (one profile per path, over its
// measured phases) and `pathbench serve ROLE --profile DIR` (one over the role's life).
// Profiles are readable by google-pprof and `go tool pprof`; render() adds the top functions
// as text and an SVG call graph (google-pprof --svg needs graphviz's `dot`).
//
// A build without libprofiler, or a machine without google-pprof / dot, still runs: each
// missing piece is named in the notes instead of failing the run.
#pragma once
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace pathbench::cli {

// Whether this build can write CPU profiles.
bool profiler_built_in() noexcept;

class CpuProfiler {
 public:
  // Profiles go to `dir` (which must exist) as profile_<name>.prof.
  explicit CpuProfiler(std::filesystem::path dir);
  ~CpuProfiler();  // stop()
  CpuProfiler(const CpuProfiler&) = delete;
  CpuProfiler& operator=(const CpuProfiler&) = delete;

  // Ends the profile in progress (if any) and starts one named `name` (a path label or role;
  // characters other than [A-Za-z0-9_.-] become '_'). Any thread; not per request.
  void start(const std::string& name);
  // Ends the profile in progress, if any. Any thread.
  void stop();
  // The name of the profile in progress ("" when none).
  std::string current() const;

  // For each profile written: profile_<name>.top.txt (google-pprof --text, top functions) and
  // profile_<name>.svg (google-pprof --svg). Returns one note per file written or tool missing.
  std::vector<std::string> render() const;
  // Notes on what kept profiling from happening (empty when profiles were written).
  const std::vector<std::string>& problems() const noexcept { return problems_; }
  std::vector<std::filesystem::path> written() const;

 private:
  std::filesystem::path dir_;
  mutable std::mutex mu_;
  std::string current_;
  std::vector<std::filesystem::path> written_;
  std::vector<std::string> problems_;
};

// Heap profiles (`pathbench run --profile --heap-profile`), with tcmalloc's heap profiler. It
// needs tcmalloc as the process's allocator, and pathbench keeps glibc's malloc: only a profiled
// run changes allocator, by re-executing itself with libtcmalloc preloaded (below).
//
// reexec_with_tcmalloc(): when tcmalloc's heap profiler is not in the process yet, execv()s
// /proc/self/exe with the same arguments and LD_PRELOAD=<libtcmalloc.so.4> (the same process id:
// no child to stop) and does not return; in the re-executed process (or when it cannot: no
// libtcmalloc, Debian package libgoogle-perftools4) it returns "" / the reason. The re-executed
// process removes its LD_PRELOAD again, so the servers and tools it starts keep their allocator.
// Call it before any thread starts.
std::string reexec_with_tcmalloc();

class HeapProfiler {
 public:
  // Profiles go to `dir` (which must exist) as heap_<name>.NNNN.heap (tcmalloc's numbering).
  explicit HeapProfiler(std::filesystem::path dir);
  ~HeapProfiler();  // stop()
  HeapProfiler(const HeapProfiler&) = delete;
  HeapProfiler& operator=(const HeapProfiler&) = delete;
  // As CpuProfiler's: the in-use heap at stop() is dumped (heap_<name>.0001.heap) and the
  // profiler stopped; start() of another name stops the current one first. Any thread.
  void start(const std::string& name);
  void stop();
  std::string current() const;
  // heap_<name>.top.txt (google-pprof --text --inuse_space of the last dump) and
  // heap_<name>.alloc.top.txt (--alloc_space: every allocation since start) per profile.
  std::vector<std::string> render() const;
  const std::vector<std::string>& problems() const noexcept { return problems_; }

 private:
  std::filesystem::path dir_;
  mutable std::mutex mu_;
  std::string current_;
  std::vector<std::string> names_;  // safe names of the profiles started
  std::vector<std::string> problems_;
};

}  // namespace pathbench::cli
