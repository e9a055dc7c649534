// Objectives: the --fail-if grammar, the [slo] table (read, checked, written back), and their
// check on a run's summary rows.
#include <doctest/doctest.h>

#include <algorithm>
#include <tuple>

#include "paths/registry.h"
#include "report/objectives.h"
#include "scenario/loader.h"
#include "scenario/slo.h"

using namespace pathbench;

namespace {

constexpr const char* kBase = "[load]\nrate_per_s = 100\nduration = \"1s\"\n[[path]]\nkind = \"tcp_echo\"\n";

Objective parsed(const char* text) {
  std::string error;
  auto o = parse_objective(text, error);
  INFO(error);
  REQUIRE(o.has_value());
  return *o;
}

std::string refused(const char* text) {
  std::string error;
  CHECK_FALSE(parse_objective(text, error).has_value());
  return error;
}

}  // namespace

TEST_CASE("objectives: --fail-if expressions, with units, aliases and a path") {
  auto p99 = parsed("p99>20ms");
  CHECK(p99.metric == "p99_us");
  CHECK(p99.op == '>');
  CHECK(p99.limit == doctest::Approx(20000));
  CHECK(p99.path.empty());
  CHECK(parsed("p99.9 > 500us").metric == "p99.9_us");
  CHECK(parsed("p999>1.5s").limit == doctest::Approx(1.5e6));
  CHECK(parsed("max_us>250").limit == doctest::Approx(250));  // a bare number is the column's unit
  auto rate = parsed("achieved_rate<900");
  CHECK(rate.metric == "achieved_rate_per_s");
  CHECK(rate.op == '<');
  CHECK(parsed("error_ratio>0.1%").limit == doctest::Approx(0.001));
  auto one = parsed("grpc_unary_balancer:p50>2ms");
  CHECK(one.path == "grpc_unary_balancer");
  CHECK(one.metric == "p50_us");
  CHECK(refused("p99>+10%").find("pathbench compare") != std::string::npos);
  CHECK(refused("p99").find("[PATH:]METRIC OP VALUE") != std::string::npos);
  CHECK(refused("p99>>3").find("[PATH:]METRIC OP VALUE") != std::string::npos);
  CHECK(refused("p99>fast").find("a latency such as 20ms") != std::string::npos);
  CHECK(refused("achieved_rate<20ms").find("a number") != std::string::npos);
  CHECK(refused("error_ratio>2").find("0..1") != std::string::npos);
}

TEST_CASE("objectives: [slo] is read strictly, per path too, and written back as it was") {
  Scenario s = load_scenario_text(std::string(kBase) + "[slo]\np99 = \"20ms\"\nerror_ratio = 0.01\nmin_rate = 90\n"
                                  "[slo.tcp_echo]\np9999 = \"50ms\"\n",
                                  "s.toml", path_kinds());
  REQUIRE(s.objectives.size() == 4);
  CHECK(s.objectives[0].metric == "p99_us");
  CHECK(s.objectives[0].limit == doctest::Approx(20000));
  CHECK(s.objectives[0].line == 7);
  CHECK(s.objectives[2].metric == "achieved_rate_per_s");
  CHECK(s.objectives[2].op == '<');
  CHECK(s.objectives[3].path == "tcp_echo");
  CHECK(s.objectives[3].metric == "p99.99_us");
  // The scenario as run (context.json) reads back to the same objectives (its keys come out sorted).
  Scenario again = load_scenario_text(scenario_to_toml(s), "again.toml", path_kinds());
  REQUIRE(again.objectives.size() == 4);
  auto key = [](const Objective& o) { return std::tie(o.path, o.metric); };
  auto by_key = [&key](const Objective& a, const Objective& b) { return key(a) < key(b); };
  std::vector<Objective> before = s.objectives, after = again.objectives;
  std::sort(before.begin(), before.end(), by_key);
  std::sort(after.begin(), after.end(), by_key);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(after[i].path == before[i].path);
    CHECK(after[i].metric == before[i].metric);
    CHECK(after[i].op == before[i].op);
    CHECK(after[i].limit == doctest::Approx(before[i].limit));
  }
  auto bad = [](const std::string& slo) {
    try {
      load_scenario_text(std::string(kBase) + slo, "b.toml", path_kinds());
    } catch (const ScenarioError& e) {
      return std::string(e.what());
    }
    return std::string("(loaded)");
  };
  CHECK(bad("[slo]\np99 = 20\n") == "b.toml:7:7: slo.p99: expected a duration > 0 such as \"20ms\", found 20");
  CHECK(bad("[slo]\nerror_ratio = 1.5\n").find("slo.error_ratio: expected a number in 0..1") != std::string::npos);
  CHECK(bad("[slo]\np98 = \"1ms\"\n").find("b.toml:7:1: unknown key 'slo.p98'") != std::string::npos);
  CHECK(bad("[slo.nobody]\np50 = \"1ms\"\n").find("slo.nobody: no path is labelled 'nobody'") != std::string::npos);
}

TEST_CASE("objectives: a name that is no summary.csv column, or a path not in the scenario, is refused before the run") {
  Scenario s = load_scenario_text(kBase, "s.toml", path_kinds());
  s.objectives.push_back(parsed("p99>1ms"));
  s.objectives.push_back(parsed("cpu_total_us_per_req>50"));
  CHECK_NOTHROW(validate_objectives(s));
  s.objectives.push_back(parsed("nosuch>1"));
  CHECK_THROWS_WITH_AS(validate_objectives(s), doctest::Contains("no metric 'nosuch'"), std::invalid_argument);
  s.objectives.pop_back();
  s.objectives.push_back(parsed("other:p99>1ms"));
  CHECK_THROWS_WITH_AS(validate_objectives(s), doctest::Contains("no path labelled 'other'"), std::invalid_argument);
}
