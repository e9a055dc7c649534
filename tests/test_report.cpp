// The run's outputs a user hands on: summary.json (same figures as summary.csv), objectives
// ([slo], --fail-if, exit 3), scenarios by name, compare's warnings.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "test_helpers.h"

using namespace pathbench::testing;

namespace {

const char* kScenario =
    "name = \"report_test\"\ndescription = \"one echo path\"\n[load]\nrate_per_s = 200\nduration = \"10s\"\n"
    "warmup = \"0s\"\n[[path]]\nkind = \"tcp_echo\"\n";

}  // namespace

TEST_CASE("report: summary.json holds summary.csv's rows and columns, the accounting and the context") {
  TempDir dir;
  write_file(dir / "s.toml", kScenario);
  auto r = run_pathbench("run " + (dir / "s.toml").string() + " --duration 500ms --no-charts --out " + (dir / "out").string());
  CAPTURE(r.output);
  REQUIRE(r.exit_code == 0);
  auto doc = nlohmann::json::parse(read_file(dir / "out" / "summary.json"));
  CHECK(doc["schema"] == "pathbench.summary/1");
  CHECK(doc["scenario"] == "report_test");
  // Every summary.csv column, in order, under the same name.
  std::string csv = read_file(dir / "out" / "summary.csv");
  std::string header = csv.substr(0, csv.find('\n'));
  std::vector<std::string> names;
  for (auto& c : doc["columns"]) names.push_back(c["name"]);
  std::string joined;
  for (auto& n : names) joined += (joined.empty() ? "" : ",") + n;
  CHECK(joined == header);
  REQUIRE(doc["rows"].size() == 1);
  auto& row = doc["rows"][0];
  CHECK(row["path"] == "tcp_echo");
  CHECK(row["issued"].is_number_integer());
  CHECK(row["issued"] == 100);
  CHECK(row["p99_us"].is_number_float());
  CHECK(row["accounting_ok"] == true);
  CHECK(doc["accounting"][0].get<std::string>().find("tcp_echo: issued 100 = ok 100") == 0);
  CHECK(doc["context"]["libraries"].contains("grpc"));
  CHECK(doc["context"]["libraries"].contains("nats.c"));
  CHECK(doc["context"]["servers"].is_object());  // no private server for a tcp_echo run
  CHECK(doc["context"]["servers"].empty());
  CHECK(doc["objectives"].empty());
}

TEST_CASE("report: a crossed objective exits 3 and says which; held ones exit 0; bad ones exit 2") {
  TempDir dir;
  write_file(dir / "slo.toml", std::string(kScenario) + "[slo]\nerror_ratio = 0.5\n[slo.tcp_echo]\np50 = \"1ns\"\n");
  auto crossed = run_pathbench("run " + (dir / "slo.toml").string() + " --duration 300ms --no-charts --out " +
                               (dir / "a").string());
  CAPTURE(crossed.output);
  CHECK(crossed.exit_code == 3);
  CHECK(std::regex_search(crossed.output, std::regex("OBJECTIVE CROSSED: tcp_echo \\(main\\): p50_us = [0-9.]+ us, must not "
                                                     "be above 0.0 us \\(objective: p50 <= 1ns\\) \\[\\[slo\\] at line 12:")));
  CHECK(std::filesystem::exists(dir / "a" / "summary.csv"));  // results are still written
  auto doc = nlohmann::json::parse(read_file(dir / "a" / "summary.json"));
  REQUIRE(doc["objectives"].size() == 2);
  CHECK(doc["objectives"][1]["crossed"] == true);

  write_file(dir / "s.toml", kScenario);
  auto held = run_pathbench("run " + (dir / "s.toml").string() + " --duration 300ms --no-charts --fail-if 'p99>10s' "
                       "--fail-if 'error_ratio>0.1%' --out " + (dir / "b").string());
  CAPTURE(held.output);
  CHECK(held.exit_code == 0);
  CHECK(held.output.find("objectives: all 2 held") != std::string::npos);

  auto fail_if = run_pathbench("run " + (dir / "s.toml").string() + " --duration 300ms --no-charts --fail-if 'p99<1s' --out " +
                               (dir / "c").string());
  CHECK(fail_if.exit_code == 3);
  CHECK(fail_if.output.find("(objective: p99<1s) [--fail-if]") != std::string::npos);

  for (const char* bad : {"p99>+10%", "p99", "nosuch>3", "other_path:p99>1ms", "p99>fast"}) {
    auto b = run_pathbench("run " + (dir / "s.toml").string() + " --no-charts --fail-if '" + bad + "' --out " +
                           (dir / "d").string());
    CAPTURE(b.output);
    CHECK(b.exit_code == 2);
    CHECK_FALSE(std::filesystem::exists(dir / "d" / "summary.csv"));
  }
  write_file(dir / "typo.toml", std::string(kScenario) + "[slo]\np99 = \"20ms\"\np98 = \"1ms\"\n[slo.nope]\np50 = \"1ms\"\n");
  auto typo = run_pathbench("validate " + (dir / "typo.toml").string());
  CAPTURE(typo.output);
  CHECK(typo.exit_code == 2);
  CHECK(typo.output.find("typo.toml:11:1: unknown key 'slo.p98'") != std::string::npos);
  CHECK(typo.output.find("slo.nope: no path is labelled 'nope'") != std::string::npos);
}

TEST_CASE("report: scenarios are found by name and listed with their descriptions") {
  TempDir dir;
  std::filesystem::create_directories(dir / "scenarios");
  write_file(dir / "scenarios" / "mine.toml", kScenario);
  auto list = run_pathbench("scenarios");
  CAPTURE(list.output);
  CHECK(list.exit_code == 0);
  CHECK(std::regex_search(list.output, std::regex("\n  quickstart +tcp_echo floor, then")));
  // A bare name resolves against ./scenarios/ first.
  auto r = run_pathbench("validate quickstart");
  CHECK(r.exit_code == 0);
  std::string cd = "cd '" + dir.path().string() + "' && ";
  auto mine = run_pathbench("validate mine");  // not in this process's ./scenarios
  CHECK(mine.exit_code == 2);
  CommandResult here;
  {
    std::string command = cd + "'" + PATHBENCH_BINARY + "' scenarios 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe);
    char buffer[4096];
    std::size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) here.output.append(buffer, n);
    here.exit_code = WEXITSTATUS(pclose(pipe));
  }
  CAPTURE(here.output);
  CHECK(here.output.find("  mine             one echo path") != std::string::npos);
}

TEST_CASE("report: compare warns about different scenarios and a generator that fell behind") {
  TempDir dir;
  auto csv = [](const char* scenario, const char* lag) {
    return std::string("scenario,path,phase,p99_us,wakeup_lag_p99_us\n") + scenario + ",a,main,100.0," + lag + "\n";
  };
  std::filesystem::create_directories(dir / "one");
  std::filesystem::create_directories(dir / "two");
  write_file(dir / "one" / "summary.csv", csv("x", "10.0"));
  write_file(dir / "two" / "summary.csv", csv("y", "900.0"));
  auto r = run_pathbench("compare " + (dir / "one").string() + " " + (dir / "two").string());
  CAPTURE(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("WARNING: two ran scenario 'y', the baseline 'x'") != std::string::npos);
  CHECK(r.output.find("WARNING: in two the load generator itself fell behind (wake-up lag p99 up to 900 us)") !=
        std::string::npos);
  CHECK(r.output.find("WARNING: in one") == std::string::npos);
}

TEST_CASE("report: a path that measured nothing leaves its latency cells empty, never 0") {
  // An external echo server that is not there: the path fails to connect, no request is ok.
  TempDir dir;
  write_file(dir / "s.toml", std::string(kScenario) + "[echo]\nendpoint = \"127.0.0.1:1\"\n");
  auto r = run_pathbench("run " + (dir / "s.toml").string() + " --duration 300ms --no-charts --out " + (dir / "out").string());
  CAPTURE(r.output);
  CHECK(r.exit_code != 0);
  auto doc = nlohmann::json::parse(read_file(dir / "out" / "summary.json"));
  REQUIRE(doc["rows"].size() == 1);
  auto& row = doc["rows"][0];
  CHECK(row["ok"] == 0);
  CHECK_FALSE(row["failure"].get<std::string>().empty());
  for (const char* column : {"p50_us", "p90_us", "p99_us", "p99.9_us", "p99.99_us", "max_us", "mean_us",
                             "uncorrected_p50_us", "uncorrected_p99_us"}) {
    CAPTURE(column);
    CHECK(row[column].is_null());
  }
  CHECK(row["issued"] == 0);
  CHECK(row["cpu_total_us_per_req"].is_null());  // nothing to divide by
}
