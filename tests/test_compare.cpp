// `pathbench compare`: known-answer tests of the change arithmetic and the --fail-if grammar,
// then the binary on fixture results folders: its table (regexes), exit codes and messages.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <regex>

#include "report/compare.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::testing;

namespace {

// The header `pathbench run` writes (copied from a real run of scenarios/quickstart.toml).
const std::string kHeader =
    "scenario,path,kind,via,phase,duration_s,target_rate_per_s,offered_rate_per_s,achieved_rate_per_s,issued,ok,"
    "errors,timeouts,rejected,err_unavailable,err_invalid_argument,err_server_error,err_transport_error,"
    "err_protocol_error,late,p50_us,p90_us,p99_us,p99.9_us,p99.99_us,max_us,mean_us,uncorrected_p50_us,"
    "uncorrected_p99_us,schedule_lag_p99_us,accounting_ok,partial,failure\n";

// One summary.csv row: a plausible healthy path at 1000 req/s, with `changes` (column -> cell) applied.
std::string row(const std::string& path, const std::map<std::string, std::string>& changes = {}) {
  std::map<std::string, std::string> cells{
      {"scenario", "fixture"}, {"path", path}, {"kind", "grpc_unary"}, {"via", "balancer"}, {"phase", "main"},
      {"duration_s", "5.000"}, {"target_rate_per_s", "1000.000"}, {"offered_rate_per_s", "1000.000"},
      {"achieved_rate_per_s", "1000.000"}, {"issued", "5000"}, {"ok", "5000"}, {"errors", "0"}, {"timeouts", "0"},
      {"rejected", "0"}, {"err_unavailable", "0"}, {"err_invalid_argument", "0"}, {"err_server_error", "0"},
      {"err_transport_error", "0"}, {"err_protocol_error", "0"}, {"late", "0"}, {"p50_us", "500.000"},
      {"p90_us", "800.000"}, {"p99_us", "1000.000"}, {"p99.9_us", "2000.000"}, {"p99.99_us", "3000.000"},
      {"max_us", "3500.000"}, {"mean_us", "550.000"}, {"uncorrected_p50_us", "450.000"},
      {"uncorrected_p99_us", "900.000"}, {"schedule_lag_p99_us", "50.000"}, {"accounting_ok", "true"},
      {"partial", "false"}, {"failure", ""}};
  for (auto& [k, v] : changes) {
    REQUIRE(cells.count(k) == 1);
    cells[k] = v;
  }
  std::string line;
  std::string header = kHeader.substr(0, kHeader.size() - 1);
  std::size_t start = 0;
  while (start <= header.size()) {
    std::size_t end = header.find(',', start);
    if (end == std::string::npos) end = header.size();
    line += (start ? "," : "") + cells.at(header.substr(start, end - start));
    start = end + 1;
  }
  return line + "\n";
}

// A results folder `name` under `dir` holding a summary.csv with `rows`.
std::string results_folder(const TempDir& dir, const std::string& name, const std::string& rows) {
  std::filesystem::create_directories(dir / name);
  write_file(dir / name / "summary.csv", kHeader + rows);
  return (dir / name).string();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("compare: relative change against the baseline") {
  CHECK(relative_change_percent(1000, 1100) == doctest::Approx(10.0));
  CHECK(relative_change_percent(1000, 900) == doctest::Approx(-10.0));
  CHECK(relative_change_percent(200, 500) == doctest::Approx(150.0));
  CHECK(relative_change_percent(0, 0) == 0.0);
  CHECK(std::isinf(relative_change_percent(0, 3)));
  CHECK(relative_change_percent(0, 3) > 0);
  CHECK(relative_change_percent(-10, -5) == doctest::Approx(50.0));  // toward zero from below is up
}

TEST_CASE("compare: --fail-if grammar") {
  auto t = parse_threshold("p99>+10%");
  CHECK(t.metric == "p99_us");
  CHECK(t.op == '>');
  CHECK(t.kind == ThresholdKind::relative_percent);
  CHECK(t.value == 10.0);

  t = parse_threshold(" achieved_rate < -5% ");
  CHECK(t.metric == "achieved_rate_per_s");
  CHECK(t.op == '<');
  CHECK(t.kind == ThresholdKind::relative_percent);
  CHECK(t.value == -5.0);
  CHECK(t.text == "achieved_rate < -5%");

  t = parse_threshold("errors>0");
  CHECK(t.metric == "errors");
  CHECK(t.kind == ThresholdKind::absolute);
  CHECK(t.value == 0.0);

  t = parse_threshold("timeouts>+0");
  CHECK(t.kind == ThresholdKind::delta);
  CHECK(t.value == 0.0);

  t = parse_threshold("p99.9>2.5%");  // an unsigned percentage is a rise
  CHECK(t.metric == "p99.9_us");
  CHECK(t.kind == ThresholdKind::relative_percent);
  CHECK(t.value == 2.5);

  t = parse_threshold("schedule_lag_p99_us>200");  // any column by its own name
  CHECK(t.metric == "schedule_lag_p99_us");
  CHECK(t.kind == ThresholdKind::absolute);

  CHECK(resolve_metric("p50") == "p50_us");
  CHECK(resolve_metric("p99.99") == "p99.99_us");
  CHECK(resolve_metric("max") == "max_us");
  CHECK(resolve_metric("mean") == "mean_us");
  CHECK(resolve_metric("offered_rate") == "offered_rate_per_s");
  CHECK(resolve_metric("rejected") == "rejected");

  for (const char* bad : {"p99", "p99>", ">10%", "p99>>10%", "p99>=10%", "p99>ten", "p99>10%%", "p 99>1", "p99>nan",
                          "p99>1e999", ""}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_threshold(bad), CompareError);
  }
  try {
    parse_threshold("p99>>10%");
  } catch (const CompareError& e) {
    CHECK(contains(e.what(), "bad --fail-if 'p99>>10%'"));
    CHECK(contains(e.what(), "METRIC>VALUE"));
  }
}

TEST_CASE("compare: summary.csv parsing, row matching and threshold evaluation") {
  // A quoted failure with a comma and a newline is one field.
  auto base = parse_summary_csv(kHeader + row("a") + row("b", {{"failure", "\"refused, twice\nthen gave up\""}}),
                                "base.csv", "base");
  REQUIRE(base.rows.size() == 2);
  CHECK(base.cell(1, "failure") == std::optional<std::string_view>("refused, twice\nthen gave up"));
  CHECK(base.number(0, "p99_us") == 1000.0);
  CHECK_FALSE(base.number(0, "no_such_column").has_value());

  auto later = parse_summary_csv(kHeader + row("a", {{"p99_us", "1250.000"}, {"errors", "2"}}) + row("c"), "later.csv",
                                 "later");
  auto c = compare_runs({base, later}, {"p99_us"});
  REQUIRE(c.rows.size() == 3);  // a, b (baseline only), c (later only), in that order
  CHECK(c.rows[0].path == "a");
  CHECK(c.rows[0].metrics[0].change_percent[1] == doctest::Approx(25.0));
  CHECK(c.rows[1].path == "b");
  CHECK(c.rows[1].present == std::vector<bool>{true, false});
  CHECK(c.rows[1].notes[0] == "failed: refused, twice then gave up");
  CHECK(c.rows[2].path == "c");
  CHECK_FALSE(c.rows[2].metrics[0].values[0].has_value());
  CHECK(c.rows[2].metrics[0].values[1] == 1000.0);

  auto breaches = evaluate_thresholds({base, later}, {parse_threshold("p99>+20%"), parse_threshold("p99>+30%"),
                                                      parse_threshold("errors>+1"), parse_threshold("p99>999")});
  // p99 +25% crosses +20% but not +30%; errors 0 -> 2 crosses +1; p99 > 999 in a (1250) and in c (new, 1000).
  REQUIRE(breaches.size() == 4);
  CHECK(breaches[0].threshold == "p99>+20%");
  CHECK(breaches[0].path == "a");
  CHECK(breaches[1].threshold == "errors>+1");
  CHECK(breaches[2].path == "a");
  CHECK(breaches[3].path == "c");
  CHECK_FALSE(breaches[3].baseline.has_value());

  CHECK_THROWS_AS(parse_summary_csv(kHeader + row("a") + row("a"), "dup.csv", "dup"), CompareError);
  CHECK_THROWS_AS(parse_summary_csv("x,y\n1,2\n", "other.csv", "other"), CompareError);
  CHECK_THROWS_AS(parse_summary_csv(kHeader + "fixture,a,short\n", "short.csv", "short"), CompareError);
  CHECK_THROWS_AS(check_threshold_metrics({parse_threshold("bogus>1")}, {base, later}), CompareError);
  CHECK_NOTHROW(check_threshold_metrics({parse_threshold("err_unavailable>0")}, {base, later}));
}

TEST_CASE("compare: the table shows values, changes and '-' for rows in only some runs") {
  TempDir dir;
  auto a = results_folder(dir, "run-a", row("grpc_unary") + row("tcp_echo", {{"kind", "tcp_echo"}}));
  auto b = results_folder(dir, "run-b",
                          row("grpc_unary", {{"p99_us", "1100.000"}, {"p50_us", "450.000"}, {"achieved_rate_per_s",
                                                                                           "990.500"}}) +
                              row("grpc_stream", {{"kind", "grpc_stream"}}));
  auto c = results_folder(dir, "run-c", row("grpc_unary", {{"p99_us", "2000.000"}}));
  auto r = run_pathbench("compare " + a + " " + b + " " + c);
  CAPTURE(r.output);
  CHECK(r.exit_code == 0);
  CHECK(std::regex_search(r.output, std::regex("baseline: +run-a +\\(.*run-a/summary.csv\\)")));
  CHECK(std::regex_search(r.output, std::regex("run 3: +run-c")));
  CHECK(std::regex_search(r.output, std::regex("grpc_unary / main\\n")));
  CHECK(std::regex_search(r.output, std::regex("metric +run-a \\(baseline\\) +run-b +run-c\\n")));
  CHECK(std::regex_search(r.output, std::regex("p99_us +1000 +1100 \\(\\+10\\.0%\\) +2000 \\(\\+100\\.0%\\)\\n")));
  CHECK(std::regex_search(r.output, std::regex("p50_us +500 +450 \\(-10\\.0%\\) +500 \\(\\+0\\.0%\\)\\n")));
  CHECK(std::regex_search(r.output, std::regex("achieved_rate_per_s +1000 +990\\.5 \\(-0\\.9%\\) +1000")));
  // tcp_echo is only in the baseline, grpc_stream only in run-b.
  CHECK(std::regex_search(r.output, std::regex("tcp_echo / main +\\(not in run-b, run-c\\)")));
  CHECK(std::regex_search(r.output, std::regex("grpc_stream / main +\\(not in run-a, run-c\\)")));
  CHECK(std::regex_search(r.output, std::regex("tcp_echo / main[^\\n]*\\n(.*\\n)*? +p99_us +1000 +- +-\\n")));
  CHECK(std::regex_search(r.output, std::regex("grpc_stream / main[^\\n]*\\n(.*\\n)*? +p99_us +- +1000 +-\\n")));
  CHECK_FALSE(contains(r.output, "thresholds"));  // none asked for

  // A summary.csv file works as well as its folder; --all shows every numeric column.
  auto f = run_pathbench("compare --all " + a + "/summary.csv " + b);
  CAPTURE(f.output);
  CHECK(f.exit_code == 0);
  CHECK(std::regex_search(f.output, std::regex("schedule_lag_p99_us +50 +50 \\(\\+0\\.0%\\)")));
  CHECK(std::regex_search(f.output, std::regex("err_unavailable +0 +0")));
}

TEST_CASE("compare: --fail-if exit codes: 0 when thresholds hold, 1 when crossed, 2 on bad input") {
  TempDir dir;
  auto a = results_folder(dir, "base", row("grpc_unary"));
  auto b = results_folder(dir, "next", row("grpc_unary", {{"p99_us", "1100.000"}, {"timeouts", "3"},
                                                          {"achieved_rate_per_s", "940.000"}}));

  auto pass = run_pathbench("compare " + a + " " + b + " --fail-if 'p99>+20%' --fail-if 'errors>0'");
  CAPTURE(pass.output);
  CHECK(pass.exit_code == 0);
  CHECK(contains(pass.output, "thresholds: all 2 hold (p99>+20%, errors>0)"));

  auto fail = run_pathbench("compare " + a + " " + b +
                            " --fail-if 'p99>+5%' --fail-if 'timeouts>+0' --fail-if 'achieved_rate<-5%'"
                            " --fail-if 'p50>+5%'");
  CAPTURE(fail.output);
  CHECK(fail.exit_code == 1);
  CHECK(contains(fail.output, "thresholds: 3 crossed"));
  CHECK(contains(fail.output, "FAIL p99>+5%: grpc_unary / main: p99_us 1000 -> 1100 (+10.0%) in next"));
  CHECK(contains(fail.output, "FAIL timeouts>+0: grpc_unary / main: timeouts 0 -> 3 (from 0) in next"));
  CHECK(contains(fail.output, "FAIL achieved_rate<-5%: grpc_unary / main: achieved_rate_per_s 1000 -> 940 (-6.0%) in next"));
  CHECK_FALSE(contains(fail.output, "FAIL p50"));

  // A threshold only compares later runs against the baseline, never the baseline with itself.
  CHECK(run_pathbench("compare " + b + " " + a + " --fail-if 'timeouts>0'").exit_code == 0);

  auto bad = run_pathbench("compare " + a + " " + b + " --fail-if 'p99>>10%'");
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.output, "bad --fail-if 'p99>>10%'"));
  auto unknown = run_pathbench("compare " + a + " " + b + " --fail-if 'p98>+10%'");
  CHECK(unknown.exit_code == 2);
  CHECK(contains(unknown.output, "no run has a numeric column 'p98'"));

  std::filesystem::create_directories(dir / "empty");
  auto empty = run_pathbench("compare " + a + " " + (dir / "empty").string());
  CHECK(empty.exit_code == 2);
  CHECK(contains(empty.output, "empty: no summary.csv in this folder"));
  auto missing = run_pathbench("compare " + a + " " + (dir / "missing").string());
  CHECK(missing.exit_code == 2);
  CHECK(contains(missing.output, "missing: no such results folder or summary.csv file"));
  CHECK(run_pathbench("compare " + a).exit_code == 2);  // one run is nothing to compare
  CHECK(run_pathbench("compare --help").exit_code == 0);
}
