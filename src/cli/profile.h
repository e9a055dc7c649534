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

}  // namespace pathbench::cli
