// Output formats behind one interface (Google Benchmark's reporters): each writer turns a
// finished RunResult into files in the run's results folder. Called once, on the main
// thread, after every client thread has been joined.
#pragma once
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "runner/run_result.h"

namespace pathbench {

class ResultWriter {
 public:
  virtual ~ResultWriter() = default;
  virtual std::string_view name() const = 0;  // e.g. "summary.csv"
  // Throws std::runtime_error naming the file on I/O failure.
  virtual void write(const RunResult& result, const std::filesystem::path& dir) const = 0;
};

// Every writer, in the order they run.
std::span<const std::unique_ptr<ResultWriter>> result_writers();
void write_results(const RunResult& result, const std::filesystem::path& dir);

// The summary's column names and one row per (path, measured phase): shared by summary.csv,
// the stdout table and `compare`, so they can never disagree.
struct SummaryRow {
  std::string path, kind, via, phase;
  // duration_s: how long the phase ran (shorter than planned when the run was cut); every
  // rate divides by it. offered: issued (what the schedule asked, including requests that
  // expired unsent) per second; sent_on_time: issued within kOnTimeToleranceNs of the intended
  // time; achieved: completed ok per second.
  double duration_s = 0, target_rate_per_s = 0, offered_rate_per_s = 0, achieved_rate_per_s = 0;
  double sent_on_time_rate_per_s = 0;
  std::int64_t sent_on_time = 0, unsent = 0;
  std::int64_t issued = 0, ok = 0, errors = 0, timeouts = 0, rejected = 0, late = 0;
  std::array<std::int64_t, kOutcomeCount> outcomes{};
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, p9999_us = 0, max_us = 0, mean_us = 0;
  double uncorrected_p50_us = 0, uncorrected_p99_us = 0, lag_p99_us = 0;
  double wakeup_lag_p50_us = 0, wakeup_lag_p99_us = 0;  // the generator's own share of the lag (open loop)
  // CPU µs per completed request over the path's whole run, by role group and for the process.
  std::array<double, kCpuGroupCount> cpu_us_per_request{};
  double cpu_total_us_per_request = 0;
  bool accounting_ok = true, partial = false;
  std::string failure;
  // "all" for the path's row; else one request kind's row (heavy, point, echo; a task's type):
  // counts, rates and latency percentiles of that kind only. Figures that are not kept per kind
  // (uncorrected latency, schedule lag, sent on time, unsent, late, CPU) are empty on it.
  std::string request_kind = "all";
};
std::vector<SummaryRow> summary_rows(const RunResult& result);
// summary_rows() with, under each row, one row per request kind of its path (summary.csv).
std::vector<SummaryRow> summary_rows_with_kinds(const RunResult& result);

// summary.csv's whole text (summary.json is built from it: the same columns, the same names).
std::string summary_csv_text(const RunResult& result);

// A CSV field, quoted when it holds a comma, a quote or a newline.
std::string csv_field(std::string_view text);

// A result file being written. Every writer ends with close(), which flushes and checks: a
// full disk or an I/O error shows up at the flush, and close() throws std::runtime_error naming
// the file. Destroying one that was never closed is a bug (aborts) unless an exception is
// already on its way, so no writer can forget the check.
class OutputFile : public std::ofstream {
 public:
  explicit OutputFile(std::filesystem::path file);  // throws std::runtime_error naming the file
  OutputFile(OutputFile&& other) noexcept
      : std::ofstream(std::move(other)), file_(std::move(other.file_)), closed_(other.closed_),
        exceptions_at_open_(other.exceptions_at_open_) {
    other.closed_ = true;
  }
  ~OutputFile() override;
  void close();

 private:
  std::filesystem::path file_;
  bool closed_ = false;
  int exceptions_at_open_ = std::uncaught_exceptions();  // a writer may itself run during unwinding
};

// Opens a file for writing or throws std::runtime_error naming it.
OutputFile open_output(const std::filesystem::path& file);

// Creates the results folder and proves it writable (a probe file is written, flushed and
// removed) before any load starts. Throws std::runtime_error with the reason: a read-only
// folder, a parent that is a file, a name too long for the file system.
void prepare_results_folder(const std::filesystem::path& dir);

// Name of a path's histogram file for a phase: "<label>.hgrm" for the only measured phase
// "main", else "<label>.<phase>.hgrm"; `variant` ("", "uncorrected") goes before the suffix.
std::string hgrm_file_name(const PathRunResult& path, const PhasePlan& phase, std::string_view variant);

}  // namespace pathbench
