// `pathbench run` draws the charts and report.html itself (scripts/charts/, matplotlib) when
// a Python with matplotlib is on the machine: Debian's /usr/bin/python3 first (a pyenv or venv
// `python3` first on PATH often lacks Debian's python3-matplotlib), then `python3` on PATH.
// Where the chart script is: the installed layout next to the executable
// (<bin>/../share/pathbench/scripts/charts.py, so an unpacked .deb works wherever it is), the
// source tree this binary was built from, then the install prefix baked in at build time.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

namespace pathbench::cli {

struct ChartTool {
  std::string python;            // an interpreter that imports matplotlib and numpy
  std::filesystem::path script;  // charts.py
};

// The tool, or nullopt with `why_not` saying what is missing and how to get it.
std::optional<ChartTool> find_chart_tool(std::string& why_not);

// Runs charts.py on `results_dir`; its lines go to stdout unless `quiet`. Returns its exit code
// (-1 when it could not be started or was killed by a signal).
int draw_charts(const ChartTool& tool, const std::filesystem::path& results_dir, bool quiet);

// The folder holding the installed share data (scenarios, charts, docs) for this executable,
// or "" when neither the one next to it nor the baked-in prefix exists.
std::filesystem::path installed_share_dir();

// The source tree this binary was built from ("" when it is gone).
std::filesystem::path source_dir();

}  // namespace pathbench::cli
