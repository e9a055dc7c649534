// What the task path and the per-kind results leave behind: summary.csv's per-kind rows (a query
// mix's heavy vs point, a task's types), tasks.csv's format, the [task] table's validation, and
// the task metrics in Prometheus text (checked by promtool when Debian's prometheus is installed).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdio>
#include <regex>
#include <sstream>

#include "paths/registry.h"
#include "report/metrics.h"
#include "report/writer.h"
#include "roles/task_engine.h"
#include "runner/runner.h"
#include "scenario/loader.h"
#include "skip_guard.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::testing;

namespace {

Scenario kinds_scenario(const TempDir& dir) {
  return load_scenario_text(fmt::format(R"(
name = "kinds"
[load]
mode = "closed"
concurrency = 4
duration = "300ms"
warmup = "0s"
[database]
path = "{}"
sales = 3000
[query]
mix = {{ heavy = 1, point = 3 }}
[task]
mix = {{ cpu = 1, write = 1 }}
cpu_us = 100
[[path]]
kind = "grpc_unary"
via = "direct"
[[path]]
kind = "task"
via = "direct"
)",
                                        (dir / "sales.db").string()),
                            "kinds.toml");
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string f; std::getline(in, f, ',');) out.push_back(f);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

std::string scenario_errors(const std::string& text) {
  try {
    load_scenario_text(text, "s.toml");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("results: summary.csv has a row per request kind under each path; tasks.csv audits the task path") {
  TempDir dir;
  Scenario s = kinds_scenario(dir);
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  write_results(r, dir / "out");

  std::istringstream lines(read_file(dir / "out" / "summary.csv"));
  std::string header;
  std::getline(lines, header);
  auto columns = split(header);
  auto at = [&columns](const std::string& name) {
    auto it = std::find(columns.begin(), columns.end(), name);
    REQUIRE(it != columns.end());
    return static_cast<std::size_t>(it - columns.begin());
  };
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(lines, line);) {
    rows.push_back(split(line));
    REQUIRE(rows.back().size() == columns.size());
  }
  // grpc_unary: all, point, heavy (the mix's kinds in catalog order); task: all, cpu, write.
  REQUIRE(rows.size() == 6);
  const std::vector<std::pair<std::string, std::string>> expected{
      {"grpc_unary_direct", "all"}, {"grpc_unary_direct", "point"}, {"grpc_unary_direct", "heavy"},
      {"task_direct", "all"},       {"task_direct", "cpu"},         {"task_direct", "write"}};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CAPTURE(i);
    CHECK(rows[i][at("path")] == expected[i].first);
    CHECK(rows[i][at("request_kind")] == expected[i].second);
    CHECK(rows[i][at("accounting_ok")] == "true");
  }
  for (std::size_t all : {std::size_t{0}, std::size_t{3}}) {
    const std::int64_t issued = std::stoll(rows[all][at("issued")]);
    const std::int64_t ok = std::stoll(rows[all][at("ok")]);
    CHECK(issued > 10);
    CHECK(issued == std::stoll(rows[all + 1][at("issued")]) + std::stoll(rows[all + 2][at("issued")]));
    CHECK(ok == std::stoll(rows[all + 1][at("ok")]) + std::stoll(rows[all + 2][at("ok")]));
    for (std::size_t k = all + 1; k <= all + 2; ++k) {
      CHECK(std::stod(rows[k][at("p50_us")]) > 0);
      CHECK(rows[k][at("cpu_total_us_per_req")].empty());  // not kept per kind: empty, never 0
      CHECK(rows[k][at("late")].empty());
      CHECK(rows[k][at("target_rate_per_s")].empty());
    }
  }
  // 3 point : 1 heavy
  CHECK(std::stoll(rows[1][at("issued")]) > std::stoll(rows[2][at("issued")]));

  std::string tasks = read_file(dir / "out" / "tasks.csv");
  CAPTURE(tasks);
  CHECK(std::regex_match(tasks, std::regex(
      "path,run_id,issued,done,received,processing,failed,lost,done_after_timeout,requests_ok,reclaimed,redelivered,"
      "insert_failed,insert_busy,store,error\n"
      "task_direct,kinds/task_direct/[0-9]{8}T[0-9]{6}Z/[0-9]+,([0-9]+),\\1,0,0,0,0,0,\\1,0,0,0,0,[^,\n]*sales\\.tasks\\.db,\n")));
  CHECK(r.paths[1].tasks->issued == std::stoll(rows[3][at("issued")]));  // no warm-up: every task is measured
}

TEST_CASE("scenario: [task] is validated like every table") {
  auto s = load_scenario_text("[task]\nmix = { write = 2 }\ncpu_us = 0\nlease = \"250ms\"\n[[path]]\nkind = \"task\"\n",
                              "s.toml");
  CHECK(s.task.write_weight == 2);
  CHECK(s.task.query_weight == 0);  // a mix names the types it wants
  CHECK(s.task.cpu_weight == 0);
  CHECK(s.task.lease_ns == 250 * kNanosPerMilli);
  CHECK(s.paths[0].via == "balancer");  // the kind's default route
  CHECK(scenario_errors("[task]\nmix = { query = 0 }\n[[path]]\nkind = \"task\"\n").find("s.toml:2:") != std::string::npos);
  CHECK(scenario_errors("[task]\nlease = \"0s\"\n[[path]]\nkind = \"task\"\n").find("task.lease") != std::string::npos);
  CHECK(scenario_errors("[task]\nwrite_rows = 0\n[[path]]\nkind = \"task\"\n").find("s.toml:2:") != std::string::npos);
  CHECK(scenario_errors("[task]\nmix = { sleep = 1 }\n[[path]]\nkind = \"task\"\n").find("sleep") != std::string::npos);
  // (via = "queue" is a route since the queue route; an unknown one is still refused)
  CHECK(scenario_errors("[[path]]\nkind = \"task\"\nvia = \"pigeon\"\n").find("via") != std::string::npos);
}

TEST_CASE("metrics: the task families are valid Prometheus text (promtool check metrics)") {
  TaskEngineStats s;
  s.in_processing = 2;
  s.received = 10;
  s.by_type[0].completed = 7;
  s.by_type[0].duration_buckets[3] = 5;
  s.by_type[0].duration_buckets.back() = 2;
  s.by_type[0].duration_sum_s = 4.5;
  const std::string text = tasks_exposition({{"worker-0", s}, {"worker-\"1\"", TaskEngineStats{}}});
  CAPTURE(text);
  CHECK(text.find("pathbench_tasks_in_processing{worker=\"worker-0\"} 2\n") != std::string::npos);
  CHECK(text.find("pathbench_tasks_completed_total{worker=\"worker-0\",type=\"query\"} 7\n") != std::string::npos);
  CHECK(text.find("pathbench_task_duration_seconds_bucket{worker=\"worker-0\",type=\"query\",le=\"0.001\"} 5\n") !=
        std::string::npos);
  CHECK(text.find("pathbench_task_duration_seconds_count{worker=\"worker-0\",type=\"query\"} 7\n") != std::string::npos);
  CHECK(text.find("pathbench_tasks_by_state{worker=\"worker-0\",state=\"done\"} 7\n") != std::string::npos);
  if (!program_on_path("promtool")) {
    MESSAGE("SKIP: promtool is not installed (Debian package prometheus)");
    return;
  }
  TempDir dir;
  write_file(dir / "metrics.txt", text);
  const std::string command = fmt::format("promtool check metrics < '{}' 2>&1", (dir / "metrics.txt").string());
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = ::pclose(pipe);
  CAPTURE(output);
  CHECK(status == 0);
  CHECK(output.empty());  // no lint findings either
}
