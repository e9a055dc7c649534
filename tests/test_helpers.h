// Small helpers shared by the tests: temporary folders, files, running the pathbench binary.
#pragma once
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace pathbench::testing {

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("pathbench-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file, std::ios::binary) << text;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `command` through the shell; its exit status and output (stdout + stderr).
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.output.append(buffer.data(), n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs the built pathbench binary with `args` (a shell-quoted string) and captures its output.
inline CommandResult run_pathbench(const std::string& args) {
  return run_command(std::string("'") + PATHBENCH_BINARY + "' " + args);
}

// A short run for end-to-end checks: 200 req/s open loop on one client thread for 1 s after
// 200 ms, echo + point queries on a 2,000-sale database at `db`; `rest` adds the paths and tables.
inline std::string short_run_scenario(const std::string& name, const std::filesystem::path& db, const std::string& rest) {
  return "name = \"" + name + "\"\n[load]\nrate_per_s = 200\nthreads = 1\nduration = \"1s\"\nwarmup = \"200ms\"\n"
         "[database]\npath = \"" + db.string() + "\"\nsales = 2000\n[query]\nmix = { echo = 1, point = 1 }\n" + rest;
}

// The value of `column` in the summary.csv row of path `label`, all request kinds ("" when absent).
inline std::string summary_cell(const std::string& csv, const std::string& label, const std::string& column) {
  std::istringstream in(csv);
  std::vector<std::string> header;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::istringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    if (header.empty()) {
      header = std::move(cells);
      continue;
    }
    auto cell = [&](const std::string& name) -> std::string {
      for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i)
        if (header[i] == name) return cells[i];
      return "";
    };
    if (cell("path") == label && cell("request_kind") == "all") return cell(column);
  }
  return "";
}

}  // namespace pathbench::testing
