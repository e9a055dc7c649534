#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <boost/program_options.hpp>
#include <csignal>
#include <functional>
#include <thread>

#include "build_info.h"
#include "cli/charts.h"
#include "cli/commands.h"
#include "cli/scenarios.h"
#include "cli/options.h"
#include "cli/profile.h"
#include "cli/tls_options.h"
#include "core/url.h"
#include "db/seeder.h"
#include "mq/server_process.h"
#include "runner/database.h"
#include "report/live_ui.h"
#include "net/tls_policy.h"
#include "report/metrics.h"
#include "report/objectives.h"
#include "report/table.h"
#include "report/writer.h"
#include "runner/agent_service.h"
#include "runner/agents.h"
#include "runner/runner.h"
#include "paths/registry.h"
#include "scenario/loader.h"
#include "scenario/slo.h"

namespace pathbench::cli {

namespace po = boost::program_options;

namespace {

std::atomic<bool> g_stop{false};

// First SIGINT/SIGTERM: stop issuing, drain, write partial results (private brokers started for
// `url = "auto"` are stopped by their owners' destructors on the way out). Second: leave at once,
// after sending SIGTERM to those brokers' process groups so no rabbitmq-server/nats-server outlives us.
extern "C" void on_stop_signal(int) {
  if (g_stop.exchange(true)) {
    mq::kill_all_brokers_signal_safe();
    _exit(130);
  }
  static const char msg[] = "\npathbench: stopping — draining in-flight requests, writing partial results "
                            "(press Ctrl-C again to quit at once)\n";
  [[maybe_unused]] auto n = write(STDERR_FILENO, msg, sizeof msg - 1);
}

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

std::string join_args(std::span<const std::string> args) {
  std::string line = "pathbench run";
  for (auto& a : args) line += " " + a;
  return line;
}

}  // namespace

int run_main(std::span<const std::string> args) {
  po::options_description visible(
      "pathbench run SCENARIO [options] — run a scenario and write its results\n"
      "SCENARIO is a file or a name (`pathbench scenarios` lists them: ./scenarios/, then the installed ones)\n"
      "results go to results/<scenario name>/<UTC time>/ unless --out is given");
  std::string out_dir;
  std::optional<std::string> duration, warmup;
  visible.add_options()("help,h", "show this help")(
      "out,o", po::value(&out_dir), "write results into this folder instead")(
      "duration,d", po::value<std::string>(), "override load.duration, e.g. 30s")(
      "warmup,w", po::value<std::string>(), "override load.warmup, e.g. 2s or 0s")(
      "rate,r", po::value<double>(), "override load.rate_per_s (open loop)")(
      "threads,t", po::value<int>(), "override load.threads")(
      "concurrency,c", po::value<int>(), "override load.concurrency")(
      "metrics,m", po::value<std::string>(), "serve Prometheus metrics at http://ADDR/metrics during the run, e.g. 127.0.0.1:9464 (https:// with mutual TLS when the scenario has [tls])")(
      "quiet,q", po::bool_switch(), "print only the summary table")(
      "no-charts", po::bool_switch(), "do not draw the charts and report.html (drawn by default when python3 has matplotlib)")(
      "fail-if", po::value<std::vector<std::string>>()->composing(),
      "exit 3 when a measured row crosses this objective, e.g. 'p99>20ms', 'error_ratio>0.001', "
      "'grpc_unary_balancer:p50>2ms' (repeatable; also [slo] in the scenario)")(
      "ui", po::value<std::string>(), "serve a live page at http://ADDR/ during the run (each path's rate, p50/p99, "
      "errors per second), e.g. 127.0.0.1:8080")(
      "ui-hold", po::value<std::string>(), "with --ui: keep serving the finished summary and report.html this long "
      "after the run, e.g. 60s (Ctrl-C ends it sooner)")(

      "profile", po::bool_switch(), "write a CPU profile of the whole process per path over its measured phases "
      "(profile_PATH.prof, with .top.txt and .svg from google-pprof) into the results folder")(
      "heap-profile", po::bool_switch(), "write a heap profile per path the same way (heap_PATH.NNNN.heap, with "
      ".top.txt): pathbench re-executes itself with libtcmalloc preloaded for this run only");
  po::options_description all;
  all.add(visible).add_options()("scenario", po::value<std::string>(), "");
  po::positional_options_description positional;
  positional.add("scenario", 1);
  po::variables_map vm;
  if (int code = parse_options(args, all, positional, vm, visible, "\nrequest paths:\n" + registered_paths_help());
      code >= 0)
    return code;
  std::string heap_problem;
  if (vm["heap-profile"].as<bool>()) heap_problem = reexec_with_tcmalloc();  // returns in the tcmalloc process
  if (!vm.count("scenario")) {
    fmt::print(stderr, "pathbench run: name a scenario, e.g. pathbench run quickstart (pathbench scenarios lists them)\n");
    return kExitBadInput;
  }

  Scenario scenario;
  try {
    scenario = load_scenario_file(resolve_scenario(vm["scenario"].as<std::string>()));
    ScenarioOverrides overrides;
    if (vm.count("duration")) overrides.duration = vm["duration"].as<std::string>();
    if (vm.count("warmup")) overrides.warmup = vm["warmup"].as<std::string>();
    if (vm.count("rate")) overrides.rate_per_s = vm["rate"].as<double>();
    if (vm.count("threads")) overrides.threads = vm["threads"].as<int>();
    if (vm.count("concurrency")) overrides.concurrency = vm["concurrency"].as<int>();
    apply_overrides(scenario, overrides);
  } catch (const ScenarioError& e) {
    fmt::print(stderr, "{}\n", redact_urls(e.what()));
    return kExitBadInput;
  }
  if (vm.count("fail-if")) {
    for (auto& text : vm["fail-if"].as<std::vector<std::string>>()) {
      std::string error;
      auto objective = parse_objective(text, error);
      if (!objective) {
        fmt::print(stderr, "pathbench run: {}\n", error);
        return kExitBadInput;
      }
      scenario.objectives.push_back(std::move(*objective));
    }
  }
  Nanos ui_hold_ns = 0;
  if (vm.count("ui-hold") && (!vm.count("ui") || !parse_duration(vm["ui-hold"].as<std::string>(), ui_hold_ns))) {
    fmt::print(stderr, "pathbench run: --ui-hold: {}\n",
               vm.count("ui") ? "expected a duration such as \"60s\"" : "needs --ui ADDR");
    return kExitBadInput;
  }
  try {
    validate_objectives(scenario);
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "pathbench run: {}\n", e.what());
    return kExitBadInput;
  }

  try {
    apply_scenario_tls(scenario);
  } catch (const std::exception& e) {
    fmt::print(stderr, "pathbench run: {}\n", e.what());
    return kExitBadInput;
  }

  // Load agents: every one must answer and run this very pathbench before anything starts.
  if (!scenario.agents.endpoints.empty()) {
    try {
      hello_agents(scenario.agents.endpoints, pathbench_version_line());
    } catch (const AgentsError& e) {
      fmt::print(stderr, "pathbench run: {}\n", e.what());
      return kExitBadInput;
    }
  }

  const bool quiet = vm["quiet"].as<bool>();
  RunObserver observer;
  std::function<void(const std::string&, const IntervalRow&, double)> progress;
  const bool terminal = isatty(STDOUT_FILENO) == 1;
  if (!quiet) {
    observer.note = [terminal](const std::string& line) {
      fmt::print("{}{}\n", terminal ? "\r\033[K" : "", redact_urls(line));
      std::fflush(stdout);
    };
    // On a terminal one status line redrawn each second; otherwise a plain line every 5 s.
    progress = [terminal](const std::string& path, const IntervalRow& r, double total_s) {
      if (!terminal && r.second % 5 != 4) return;
      // Draining goes past the planned length: "7s+1s", not "8/7s".
      const double planned = std::round(total_s);
      const std::string at = r.second + 1 <= planned ? fmt::format("{:>4}/{:.0f}s", r.second + 1, planned)
                                                     : fmt::format("{:.0f}s+{:.0f}s", planned, r.second + 1 - planned);
      std::string line = fmt::format("{} [{}] {}  {:>8} req/s  p99 {:>9.1f} us  errors {}  timeouts {}  in flight {}",
                                     path, r.phase, at, r.ok, r.p99_us, r.errors, r.timeouts, r.in_flight);
      if (terminal) fmt::print("\r\033[K{}", line);
      else fmt::print("{}\n", line);
      std::fflush(stdout);
    };
  }

  std::filesystem::path dir = out_dir.empty()
                                  ? std::filesystem::path("results") / scenario.name / utc_timestamp(true)
                                  : std::filesystem::path(out_dir);
  // The results must have somewhere to go before any load is spent on them.
  try {
    prepare_results_folder(dir);
  } catch (const std::exception& e) {
    fmt::print(stderr, "pathbench run: --out: {}\n", e.what());
    return kExitBadInput;
  }
  install_signal_handlers();
  std::unique_ptr<RunDatabase> database;  // a private PostgreSQL server lives until the run ends
  try {
    database = prepare_database(scenario, observer);
  } catch (const SeedError& e) {
    fmt::print(stderr, "pathbench run: cannot prepare the database: {}\n", redact_urls(e.what()));
    // PostgreSQL's bad input (server program missing, bad URL, login refused) is the user's to fix.
    return e.bad_input && scenario.database.kind == "postgres" ? kExitBadInput : kExitRunFailed;
  }

  MetricsRegistry metrics;
  std::unique_ptr<MetricsHttpServer> metrics_server;
  if (vm.count("metrics")) {
    try {
      // With [tls]: https:// only, presenting the run's own identity (the table's cert), scrapers
      // presenting a certificate of its CA — like `serve … --metrics --tls-*`.
      metrics_server = std::make_unique<MetricsHttpServer>(vm["metrics"].as<std::string>(),
                                                           [&metrics] { return metrics.exposition(); }, net::client_tls());
    } catch (const std::exception& e) {
      fmt::print(stderr, "pathbench run: --metrics: {}\n", e.what());
      return kExitBadInput;
    }
    observer.topology = [&metrics](const Topology* topology) {
      if (topology) metrics.set_roles_source([topology] { return roles_exposition(*topology); });
      else metrics.set_roles_source({});
    };
    if (!quiet) fmt::print("metrics: {}\n", metrics_server->url());
  }

  std::unique_ptr<LiveUiServer> ui;
  if (vm.count("ui")) {
    try {
      ui = std::make_unique<LiveUiServer>(vm["ui"].as<std::string>(), scenario.name);
    } catch (const std::exception& e) {
      fmt::print(stderr, "pathbench run: --ui: {}\n", e.what());
      return kExitBadInput;
    }
    fmt::print(quiet ? stderr : stdout, "live view: http://{}/\n", ui->address());
    std::fflush(stdout);
  }

  std::unique_ptr<CpuProfiler> profiler;
  if (vm["profile"].as<bool>()) {
    profiler = std::make_unique<CpuProfiler>(dir);
    for (auto& problem : profiler->problems()) fmt::print(stderr, "{}\n", problem);
  }
  std::unique_ptr<HeapProfiler> heap_profiler;
  if (vm["heap-profile"].as<bool>()) {
    if (!heap_problem.empty()) fmt::print(stderr, "{}\n", heap_problem);
    heap_profiler = std::make_unique<HeapProfiler>(dir);
    if (heap_problem.empty())
      for (auto& problem : heap_profiler->problems()) fmt::print(stderr, "{}\n", problem);
  }
  // A path's profile starts as its last warm-up second ends and stops at its drain.
  const std::int64_t warmup_s = (scenario.load.warmup_ns + kNanosPerSecond - 1) / kNanosPerSecond;
  if (progress || metrics_server || ui || profiler || heap_profiler)
    observer.second = [&progress, &metrics, &ui, live = metrics_server != nullptr, profile = profiler.get(),
                       heap = heap_profiler.get(), warmup_s](
                          const std::string& path, const IntervalRow& row, const IntervalBucket& bucket, double total_s) {
      if (progress) progress(path, row, total_s);
      if (live) metrics.add_second(path, bucket);
      if (ui) ui->add_second(path, row, total_s);
      if (profile) {
        if (row.phase == "drain") profile->stop();
        else if (row.second + 1 >= warmup_s && profile->current() != path) profile->start(path);
      }
      if (heap) {
        if (row.phase == "drain") heap->stop();
        else if (row.second + 1 >= warmup_s && heap->current() != path) heap->start(path);
      }
    };

  MachineContext machine = collect_machine_context();
  if (!quiet)
    fmt::print("pathbench {} · {} · {} cores · {} · commit {} · {} build\n", build::version,
               machine.cpu_model, machine.cores, machine.kernel, machine.git_commit, machine.build_type);
  if (auto warning = build_warning(machine); !warning.empty()) fmt::print(stderr, "{}\n", warning);

  RunResult result = run_scenario(scenario, g_stop, observer);
  if (profiler) profiler->stop();
  if (heap_profiler) heap_profiler->stop();
  result.command_line = join_args(args);
  // The table first: when a result file cannot be written, the numbers still reach the user.
  if (!quiet && terminal) fmt::print("\r\033[K");
  const std::string summary_table = format_summary_table(result);
  fmt::print("{}{}\n", quiet ? "" : "\n", summary_table);
  std::fflush(stdout);
  try {
    write_results(result, dir);
  } catch (const std::exception& e) {
    fmt::print(stderr, "pathbench run: {}\n", redact_urls(e.what()));
    return kExitRunFailed;
  }
  if (profiler) {
    for (auto& note : profiler->render()) fmt::print("{}\n", note);
    if (profiler_built_in() && profiler->written().empty())
      fmt::print(stderr, "--profile: no path ran long enough to be profiled\n");
  }
  if (heap_profiler)
    for (auto& note : heap_profiler->render()) fmt::print("{}\n", note);
  if (!vm["no-charts"].as<bool>()) {
    std::string why_not;
    if (auto tool = find_chart_tool(why_not)) {
      if (draw_charts(*tool, dir, quiet) != 0)
        fmt::print(stderr, "pathbench run: the charts were not all drawn (see above); the result files are complete\n");
    } else {
      fmt::print(stderr, "pathbench run: charts and report.html not drawn: {}; --no-charts silences this\n", why_not);
    }
  }
  if (!quiet) fmt::print("results: {}{}\n", dir.string(), result.interrupted ? " (PARTIAL: interrupted)" : "");
  if (ui) {
    ui->finish(summary_table, dir);
    if (ui_hold_ns > 0 && !g_stop) {
      fmt::print(quiet ? stderr : stdout, "live view: the finished run stays at http://{}/ for {} (Ctrl-C ends it)\n",
                 ui->address(), format_duration(ui_hold_ns));
      std::fflush(stdout);
      const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ui_hold_ns);
      while (!g_stop && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  bool failed = result.interrupted;
  for (auto& p : result.paths) failed = failed || !p.failure.empty() || !p.accounting_holds();
  // Objectives last: the run itself is judged first (exit 1 wins), and their verdict is the last word.
  if (!result.scenario.objectives.empty()) {
    auto checks = check_objectives(result);
    std::size_t crossed = 0;
    for (auto& c : checks)
      if (c.crossed) {
        fmt::print("{}\n", format_crossed(c));
        ++crossed;
      }
    if (checks.empty())
      fmt::print("objectives: none checked (no measured row of a path that ran)\n");
    else if (crossed == 0)
      fmt::print("objectives: all {} held ({} checks over the measured rows)\n", result.scenario.objectives.size(),
                 checks.size());
    else
      fmt::print("objectives: {} of {} checks crossed -> exit {}{}\n", crossed, checks.size(), kExitObjectiveCrossed,
                 failed ? " (but the run itself failed: exit 1)" : "");
    if (crossed > 0 && !failed) return kExitObjectiveCrossed;
  }
  return failed ? kExitRunFailed : kExitOk;
}

}  // namespace pathbench::cli
