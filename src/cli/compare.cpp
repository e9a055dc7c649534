#include <fmt/format.h>

#include <algorithm>
#include <boost/program_options.hpp>

#include "cli/commands.h"
#include "cli/options.h"
#include "report/compare.h"

namespace pathbench::cli {

namespace po = boost::program_options;

namespace {

constexpr const char* kCompareHelp = R"(
RUN is a results folder (its summary.csv is read) or a summary.csv file. The first RUN is the
baseline; rows are matched by (path, phase) and every later run's value is shown with its change
against the baseline in parentheses. '-' marks a path, phase or column a run does not have.

--fail-if EXPR (repeatable): METRIC OP VALUE, exit 1 when a later run crosses it.
  METRIC  a numeric summary.csv column (p99_us, err_unavailable, schedule_lag_p99_us, ...) or an
          alias: p50 p90 p99 p99.9 p99.99 max mean (µs), achieved_rate offered_rate target_rate
          (per s), ok errors timeouts rejected late issued (counts)
  OP      > or < (strict)
  VALUE   +10% / -5%   relative change against the baseline, in percent (from 0: +inf)
          +3 / -100    change against the baseline in the metric's unit (later - baseline)
          2000         the later run's own value
  e.g. --fail-if 'p99>+10%' --fail-if 'achieved_rate<-5%' --fail-if 'errors>0' --fail-if 'timeouts>+0'
Changes are checked for each (path, phase) in both the baseline and the later run; a plain value
also for a path new in a later run.

Warnings (not failures) come first when the runs ran different scenarios, on different machines
(context.json next to each summary.csv), or when a run's load generator itself fell behind.

exit codes: 0 no threshold crossed, 1 a threshold crossed (each listed), 2 bad input (a folder
without summary.csv, an unreadable file, a bad --fail-if expression)
)";

}  // namespace

int compare_main(std::span<const std::string> args) {
  po::options_description visible(
      "pathbench compare BASELINE RUN [RUN...] — results side by side, per path and metric, with the change "
      "against the baseline");
  visible.add_options()("help,h", "show this help")(
      "fail-if", po::value<std::vector<std::string>>()->composing(),
      "exit 1 when a later run crosses this threshold, e.g. 'p99>+10%' (repeatable; grammar below)")(
      "all", po::bool_switch(), "show every numeric summary.csv column, not just rates, outcomes and latencies");
  po::options_description all;
  all.add(visible).add_options()("run", po::value<std::vector<std::string>>(), "");
  po::positional_options_description positional;
  positional.add("run", -1);
  po::variables_map vm;
  if (int code = parse_options(args, all, positional, vm, visible, kCompareHelp); code >= 0) return code;

  std::vector<std::string> inputs;
  if (vm.count("run")) inputs = vm["run"].as<std::vector<std::string>>();
  if (inputs.size() < 2) {
    fmt::print(stderr, "pathbench compare: name at least two results folders or summary.csv files (see --help)\n");
    return kExitBadInput;
  }
  try {
    // Thresholds first: a typo in CI's command line should not wait for the files.
    std::vector<Threshold> thresholds;
    if (vm.count("fail-if"))
      for (auto& text : vm["fail-if"].as<std::vector<std::string>>()) thresholds.push_back(parse_threshold(text));
    std::vector<SummaryRun> runs = read_summary_runs(inputs);
    check_threshold_metrics(thresholds, runs);

    std::vector<std::string> metrics = vm["all"].as<bool>() ? numeric_columns(runs) : default_compare_metrics();
    for (auto& t : thresholds)
      if (std::find(metrics.begin(), metrics.end(), t.metric) == metrics.end()) metrics.push_back(t.metric);

    for (std::size_t i = 0; i < runs.size(); ++i)
      fmt::print("{:<9} {}   ({})\n", i == 0 ? "baseline:" : fmt::format("run {}:", i + 1), runs[i].label,
                 runs[i].file.string());
    for (auto& w : comparison_warnings(runs)) fmt::print("{}\n", w);
    fmt::print("latencies in µs from the intended send time, rates per second; (+x.x%) is the change against "
               "the baseline\n\n");
    fmt::print("{}", format_comparison(compare_runs(runs, metrics)));

    if (thresholds.empty()) return kExitOk;
    auto breaches = evaluate_thresholds(runs, thresholds);
    if (breaches.empty()) {
      std::vector<std::string> texts;
      for (auto& t : thresholds) texts.push_back(t.text);
      fmt::print("thresholds: all {} hold ({})\n", thresholds.size(), fmt::join(texts, ", "));
      return kExitOk;
    }
    fmt::print("thresholds: {} crossed\n", breaches.size());
    for (auto& b : breaches) fmt::print("{}\n", format_breach(b));
    return kExitRunFailed;
  } catch (const CompareError& e) {
    fmt::print(stderr, "pathbench compare: {}\n", e.what());
    return kExitBadInput;
  }
}

}  // namespace pathbench::cli
