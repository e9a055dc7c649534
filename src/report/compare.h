// `pathbench compare`: several runs' summary.csv side by side, and thresholds for CI.
//
// Reads summary.csv files (as written by results/summary_csv.cpp), matches their rows by
// (path, phase), and gives per metric each run's value and its relative change against the
// first run (the baseline). Pure functions over files and strings; no threads. Every problem
// with the input (missing file, bad CSV, bad threshold) throws CompareError with one clear line.
//
// Threshold grammar (`--fail-if`), one expression per option:
//
//     EXPR   := METRIC OP VALUE            spaces allowed between the parts
//     METRIC := a numeric summary.csv column (p99_us, err_unavailable, schedule_lag_p99_us, ...)
//             | an alias: p50 p90 p99 p99.9 p99.99 max mean      -> <alias>_us (µs)
//                         achieved_rate offered_rate target_rate -> <alias>_per_s
//                         ok errors timeouts rejected late issued (already column names)
//     OP     := '>' | '<'                  strict
//     VALUE  := [+|-]NUMBER '%'            relative change of a later run against the baseline, in %
//                                          (an unsigned percentage counts as positive)
//             | (+|-)NUMBER                change in the metric's own unit against the baseline
//                                          (later − baseline); the sign is what makes it a change
//             | NUMBER                     the later run's own value
//
// Examples: 'p99>+10%' (p99 grew by more than 10 %), 'achieved_rate<-5%' (throughput fell by more
// than 5 %), 'errors>0' (any error in a later run), 'timeouts>+0' (more timeouts than the baseline),
// 'p50>2000' (a later run's p50 above 2 ms).
//
// Every later run is checked against the baseline, per (path, phase) present in both; a
// plain-NUMBER threshold needs no baseline row, so it also checks paths new in a later run. A
// relative change from a baseline of 0 is +inf when the later value is above 0 (so
// 'timeouts>+0%' catches the first timeout) and 0 when both are 0.
#pragma once
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pathbench {

class CompareError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One run's summary.csv, cells kept as text, rows in file order.
struct SummaryRun {
  std::string label;                  // the results folder's name, shown as the column heading
  std::filesystem::path file;         // the summary.csv read
  std::vector<std::string> columns;   // the header
  std::vector<std::vector<std::string>> rows;  // each as long as `columns`

  // The cell of `row` under `column`, or nullopt when the file has no such column.
  std::optional<std::string_view> cell(std::size_t row, std::string_view column) const;
  // The same cell as a number; nullopt when absent, empty or not a number.
  std::optional<double> number(std::size_t row, std::string_view column) const;
};

// Reads `input`: a results folder (its summary.csv) or a summary.csv file itself.
// Throws CompareError when it is missing, unreadable, lacks the path/phase columns, has a row
// of the wrong width, or names one (path, phase) twice.
SummaryRun read_summary_run(const std::filesystem::path& input);
// Which rows of a summary.csv to keep: `merged` — each path's own row per phase (request_kind
// and agent "all", or no such column), as compare and the objectives read them; `every` — also
// the per-kind and per-agent rows (summary.json), told apart by those two columns.
enum class SummaryRows { merged, every };
// The same from text (tests; `source` stands in for the file name in messages).
SummaryRun parse_summary_csv(std::string_view text, const std::string& source, std::string label,
                             SummaryRows keep = SummaryRows::merged);
// read_summary_run() for each input, in order; where two runs would get the same label (two
// folders both named `out`), those runs are labelled with the input as given instead.
std::vector<SummaryRun> read_summary_runs(const std::vector<std::string>& inputs);

enum class ThresholdKind {
  relative_percent,  // VALUE = [+-]N%: (later − baseline) / baseline × 100
  delta,             // VALUE = ±N: later − baseline
  absolute,          // VALUE = N: later
};

struct Threshold {
  std::string text;    // as given, for messages
  std::string metric;  // the summary.csv column after resolving aliases
  char op = '>';       // '>' or '<'
  ThresholdKind kind = ThresholdKind::absolute;
  double value = 0;    // percent for relative_percent, the metric's unit otherwise
};

// Parses one --fail-if expression; throws CompareError saying what is wrong and how it should look.
// Only the syntax is checked here; check_threshold_metrics() checks the metric names against the files.
Threshold parse_threshold(std::string_view text);
// The summary.csv column an alias or column name stands for (aliases above; anything else unchanged).
std::string resolve_metric(std::string_view name);
// Throws CompareError when a threshold names a column that no run has.
void check_threshold_metrics(const std::vector<Threshold>& thresholds, const std::vector<SummaryRun>& runs);

// One metric of one (path, phase) across runs: values[i] is run i's (nullopt: row or column absent).
struct MetricComparison {
  std::string metric;
  std::vector<std::optional<double>> values;
  // Relative change of run i against run 0 in percent (+inf from a baseline of 0); nullopt for
  // run 0 and wherever either value is absent.
  std::vector<std::optional<double>> change_percent;
};

struct RowComparison {
  std::string path;
  std::string phase;
  std::vector<bool> present;               // per run: has a row for (path, phase)
  std::vector<std::string> notes;          // per run: "partial", "failed: …" or empty
  std::vector<MetricComparison> metrics;
};

struct Comparison {
  std::vector<std::string> labels;  // per run, baseline first
  std::vector<RowComparison> rows;  // baseline's (path, phase) order, then those new in later runs
};

// Relative change in percent of `later` against `baseline` (the rule in the header comment).
double relative_change_percent(double baseline, double later);

// The metrics shown by default, in this order (a threshold's metric is added when it is not among them).
const std::vector<std::string>& default_compare_metrics();

// Matches the runs' rows by (path, phase) and computes `metrics` for each. Needs at least two runs.
Comparison compare_runs(const std::vector<SummaryRun>& runs, const std::vector<std::string>& metrics);

// The numeric columns present in any run, in header order (for --all).
std::vector<std::string> numeric_columns(const std::vector<SummaryRun>& runs);

// A threshold crossed by one later run on one (path, phase).
struct Breach {
  std::string threshold;  // the expression as given
  std::string path;
  std::string phase;
  std::string metric;
  std::string run;                  // the later run's label
  std::optional<double> baseline;   // absent for an absolute threshold on a path new in this run
  double value = 0;
  std::optional<double> change_percent;
};

// Evaluates every threshold on every later run; the breaches in threshold, row, run order.
std::vector<Breach> evaluate_thresholds(const std::vector<SummaryRun>& runs, const std::vector<Threshold>& thresholds);

// The readable side-by-side table: per (path, phase) a block of `metric | baseline | run2 (+x.x%) | …`,
// '-' where a run has no such row or column.
std::string format_comparison(const Comparison& comparison);
// One line per breach naming threshold, path/phase, metric, run and values.
std::string format_breach(const Breach& breach);

}  // namespace pathbench

namespace pathbench {

// What makes the runs not comparable, one line each (printed before the table; not a failure):
// runs of different scenarios (summary.csv's scenario column), made on different machines
// (context.json next to each summary.csv: hostname, CPU model, cores), or where the load
// generator itself fell behind (a row whose wakeup_lag_p99_us is above 500 µs, the summary's
// WARNING threshold). A run without context.json is only checked on its summary.csv.
std::vector<std::string> comparison_warnings(const std::vector<SummaryRun>& runs);

}  // namespace pathbench
