// The knee search on a fake path of known capacity: a single server taking 1 ms per request
// sustains 1,000 req/s and no more.
#include <doctest/doctest.h>

#include "fake_path.h"
#include "runner/knee.h"
#include "paths/registry.h"
#include "scenario/loader.h"

using namespace pathbench;
using namespace pathbench::testing;

TEST_CASE("knee: finds the known capacity of a fake single server, confirmed") {
  FakeBehaviour b;
  b.service_ns = kNanosPerMilli;
  FakeInstance instance(b);
  auto s = fake_scenario(LoadMode::open, 100, 100000, kNanosPerSecond);
  KneeConfig k;
  k.enabled = true;
  k.slo_p99_ns = 50 * kNanosPerMilli;
  k.low_rate_per_s = 100;
  k.high_rate_per_s = 10000;
  k.resolution = 0.05;
  k.probe_duration_ns = 400 * kNanosPerMilli;
  k.probe_warmup_ns = 100 * kNanosPerMilli;
  std::atomic<bool> stop{false};
  KneeResult r = find_knee(s, s.paths[0], fake_path_info(), instance, k, stop);
  CAPTURE(r.knee_rate_per_s);
  CHECK_FALSE(r.above_high);
  CHECK(r.knee_rate_per_s >= 800);
  CHECK(r.knee_rate_per_s <= 1100);
  CHECK(r.probes.size() >= 5);
  CHECK(r.probes.front().sustainable);  // 100/s on a 1,000/s server
  CHECK(r.probes.front().rate_per_s == 100);
  for (auto& p : r.probes) {
    CAPTURE(p.rate_per_s);
    CAPTURE(p.verdict);
    CHECK(p.run.accounting_holds());
    if (p.rate_per_s <= 700) CHECK(p.sustainable);
    if (p.rate_per_s >= 1300) CHECK_FALSE(p.sustainable);
  }
}

TEST_CASE("knee: verdicts name what failed") {
  KneeConfig k;
  k.slo_p99_ns = kNanosPerMilli;
  k.max_error_ratio = 0.01;
  PhaseStats s;
  s.issued = 1000;
  s.outcomes[static_cast<std::size_t>(Outcome::ok)] = 1000;
  for (int i = 0; i < 1000; ++i) s.latency.record(500'000);
  CHECK(judge_probe(s, 1000, kNanosPerSecond, k) == "ok");
  CHECK(judge_probe(s, 2000, kNanosPerSecond, k).find("offered 1000/s < 90 % of 2000/s") == 0);
  s.outcomes[static_cast<std::size_t>(Outcome::ok)] = 980;
  s.outcomes[static_cast<std::size_t>(Outcome::timeout)] = 20;
  CHECK(judge_probe(s, 980, kNanosPerSecond, k).find("errors 2.000 % > 1.000 %") == 0);
  s.outcomes[static_cast<std::size_t>(Outcome::ok)] = 1000;
  s.outcomes[static_cast<std::size_t>(Outcome::timeout)] = 0;
  for (int i = 0; i < 1000; ++i) s.lag.record(5'000'000);
  CHECK(judge_probe(s, 1000, kNanosPerSecond, k).find("the load generator fell behind") == 0);
  s.lag.reset();
  for (int i = 0; i < 100; ++i) s.latency.record(5'000'000);
  CHECK(judge_probe(s, 1000, kNanosPerSecond, k).find("p99 ") == 0);
}

TEST_CASE("knee: the [knee] table is read and checked") {
  Scenario s = load_scenario_text("[knee]\nslo_p99 = \"5ms\"\nhigh_rate_per_s = 5000\n[[path]]\nkind = \"tcp_echo\"\n", "s.toml");
  CHECK(s.knee.enabled);
  CHECK(s.knee.slo_p99_ns == 5 * kNanosPerMilli);
  CHECK(s.knee.high_rate_per_s == 5000);
  CHECK(load_scenario_text(scenario_to_toml(s), "back.toml").knee.enabled);
  CHECK_FALSE(load_scenario_text("[[path]]\nkind = \"tcp_echo\"\n", "s.toml").knee.enabled);
  CHECK_THROWS_WITH_AS(load_scenario_text("[knee]\nlow_rate_per_s = 500\nhigh_rate_per_s = 100\n[[path]]\nkind = \"tcp_echo\"\n", "s.toml"),
                       doctest::Contains("knee.high_rate_per_s: expected a rate above knee.low_rate_per_s (500)"), ScenarioError);
}
