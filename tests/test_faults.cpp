// Faults during a run, end to end through the runner: a killed worker is ejected and its
// errors are bounded by what was in flight on it, a revived one is re-admitted, a slow one
// gets less traffic under least-outstanding routing; accounting holds throughout.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include "runner/runner.h"
#include "paths/registry.h"
#include "scenario/loader.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::testing;

namespace {

Scenario fault_scenario(const TempDir& dir, const std::string& path_kind, const std::string& faults,
                        const std::string& extra = "") {
  return load_scenario_text(fmt::format(R"(
name = "faults"
[load]
mode = "open"
rate_per_s = 400
concurrency = 128
duration = "3s"
warmup = "0s"
deadline = "1s"
[database]
path = "{}"
sales = 3000
[query]
mix = {{ point = 1 }}
[workers]
count = 3
threads = 1
[balancer]
health_interval = "100ms"
health_timeout = "100ms"
{}
{}
[[path]]
kind = "{}"
)",
                                        (dir / "sales.db").string(), extra, faults, path_kind),
                            "faults.toml");
}

}  // namespace

TEST_CASE("faults: kill one of three workers, then revive it — ejected at once, re-admitted, accounting intact") {
  for (const char* kind : {"grpc_unary", "grpc_stream"}) {
    CAPTURE(kind);
    TempDir dir;
    Scenario s = fault_scenario(dir, kind, R"(
[[fault]]
at = "1s"
action = "kill_worker"
target = 1
[[fault]]
at = "1800ms"
action = "restart_worker"
target = 1
)");
    ensure_database(s, {});
    std::atomic<bool> stop{false};
    RunResult r = run_scenario(s, stop, {});
    REQUIRE(r.paths.size() == 1);
    auto& p = r.paths[0];
    INFO("failure: ", p.failure);
    REQUIRE(p.failure.empty());
    CHECK(p.accounting_holds());
    const PhaseStats& m = p.phases.back();
    CHECK(m.issued == 1200);
    // Only what was in flight on the killed worker can fail (the balancer retries unary
    // calls that never reached it); at 400/s and sub-millisecond service that is a handful.
    CHECK(m.errors() + m.count(Outcome::timeout) <= 10);
    REQUIRE(p.faults.size() == 2);
    CHECK(p.faults[0].what == "kill_worker(1)");
    CHECK(p.faults[0].ejected_after_ns >= 0);
    CHECK(p.faults[0].ejected_after_ns < 500 * kNanosPerMilli);
    CHECK(p.faults[1].what == "restart_worker(1)");
    REQUIRE(p.backends.size() == 3);
    CHECK(p.backends[1].ejections >= 1);
    CHECK_FALSE(p.backends[1].ejected);  // health checks brought it back before the end
    // Throughput held: every full second completed close to the offered rate.
    for (auto& row : p.intervals)
      if (row.phase == "main") CHECK(row.ok >= 360);
  }
}

TEST_CASE("faults: a slow worker's share of traffic falls under least-outstanding routing") {
  TempDir dir;
  Scenario s = fault_scenario(dir, "grpc_unary", R"(
[[fault]]
at = "0s"
action = "slow_worker"
target = 0
delay = "20ms"
)",
                              "policy = \"least_outstanding\"");
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  auto& p = r.paths[0];
  CHECK(p.accounting_holds());
  REQUIRE(p.backends.size() == 3);
  double total = 0;
  for (auto& b : p.backends) total += static_cast<double>(b.routed);
  double slow_share = static_cast<double>(p.backends[0].routed) / total;
  CAPTURE(slow_share);
  CHECK(slow_share < 0.2);  // a third without the fault
  CHECK(p.faults.size() == 1);
  CHECK(p.faults[0].what == "slow_worker(0,20ms)");
}

TEST_CASE("faults: a hung worker (connections open, no answers) costs only what is routed to it") {
  TempDir dir;
  Scenario s = fault_scenario(dir, "grpc_unary", R"(
[[fault]]
at = "1s"
action = "pause_worker"
target = 2
[[fault]]
at = "2s"
action = "resume_worker"
target = 2
)");
  s.load.deadline_ns = 200 * kNanosPerMilli;
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  auto& p = r.paths[0];
  CHECK(p.accounting_holds());
  const PhaseStats& m = p.phases.back();
  // Least outstanding routes around a worker whose requests pile up, and failures (each at
  // its deadline) eject it: only the few requests routed to it while hung time out.
  CHECK(m.count(Outcome::timeout) + m.errors() >= 1);
  CHECK(m.count(Outcome::timeout) + m.errors() <= 40);
  REQUIRE(p.faults.size() == 2);
  CHECK(p.faults[0].what == "pause_worker(2)");
  double total = 0;
  for (auto& b : p.backends) total += static_cast<double>(b.routed);
  CHECK(static_cast<double>(p.backends[2].routed) / total < 0.3);
}

TEST_CASE("faults: dropped connections cost at most what was in flight, and the worker keeps serving") {
  TempDir dir;
  Scenario s = fault_scenario(dir, "grpc_stream", R"(
[[fault]]
at = "1s"
action = "drop_connections"
target = 0
)");
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  auto& p = r.paths[0];
  CHECK(p.accounting_holds());
  const PhaseStats& m = p.phases.back();
  CHECK(m.errors() + m.count(Outcome::timeout) <= 10);
  REQUIRE(p.faults.size() == 1);
  CHECK(p.faults[0].what == "drop_connections(0)");
  CHECK_FALSE(p.backends[0].ejected);  // back in rotation by the end
}

TEST_CASE("faults: paused consumers on the queue path — the bounded queue rejects the overflow, the rest is served after resume") {
  TempDir dir;
  Scenario s = fault_scenario(dir, "queue", R"(
[[fault]]
at = "1s"
action = "pause_consumers"
[[fault]]
at = "1500ms"
action = "resume_consumers"
)",
                              "[broker]\nmax_pending = 100\n");
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  REQUIRE(r.paths.size() == 1);
  auto& p = r.paths[0];
  REQUIRE(p.failure.empty());
  CHECK(p.accounting_holds());
  const PhaseStats& m = p.phases.back();
  CHECK(m.issued == 1200);
  // 500 ms of 400/s arrive while nobody consumes: about 100 fit the queue (plus what the
  // consumers had prefetched), the rest are refused at once — never dropped, never timed out.
  const auto rejected = m.count(Outcome::rejected);
  CHECK(rejected >= 30);
  CHECK(rejected <= 170);
  CHECK(m.errors() == 0);
  CHECK(m.count(Outcome::timeout) == 0);
  CHECK(m.count(Outcome::ok) + rejected == 1200);
  REQUIRE(p.faults.size() == 2);
  CHECK(p.faults[0].what == "pause_consumers(0)");
}

TEST_CASE("faults: killed workers take their queue-path consumers along; restarted, they serve the queue again") {
  TempDir dir;
  std::string faults;
  for (int w = 0; w < 3; ++w)
    faults += fmt::format("[[fault]]\nat = \"1s\"\naction = \"kill_worker\"\ntarget = {0}\n"
                          "[[fault]]\nat = \"2200ms\"\naction = \"restart_worker\"\ntarget = {0}\n", w);
  Scenario s = fault_scenario(dir, "queue", faults);
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  REQUIRE(r.paths.size() == 1);
  auto& p = r.paths[0];
  REQUIRE(p.failure.empty());
  CHECK(p.accounting_holds());
  const PhaseStats& m = p.phases.back();
  CHECK(m.issued == 1200);
  // Nobody consumes from 1 s to 2.2 s: what was sent in the first ~200 ms of that gap waits
  // past its 1 s deadline (timeouts); the rest is served once the consumers are back.
  CHECK(m.count(Outcome::timeout) >= 20);
  CHECK(m.count(Outcome::ok) >= 700);
  REQUIRE(p.faults.size() == 6);
  CHECK(p.faults[0].what == "kill_worker(0)");
}

TEST_CASE("faults: streams and WebSocket connections cut by a dropped worker are opened again and the load recovers") {
  for (const char* kind : {"grpc_stream\"\nvia = \"direct", "websocket\"\nvia = \"direct"}) {
    CAPTURE(kind);
    TempDir dir;
    // One connection per client thread, to worker 0: dropping it cuts every stream of the run.
    Scenario s = fault_scenario(dir, kind, R"(
[[fault]]
at = "1s"
action = "drop_connections"
target = 0
)");
    ensure_database(s, {});
    std::atomic<bool> stop{false};
    RunResult r = run_scenario(s, stop, {});
    auto& p = r.paths[0];
    INFO("failure: ", p.failure);
    REQUIRE(p.failure.empty());
    CHECK(p.accounting_holds());
    const PhaseStats& m = p.phases.back();
    CHECK(m.errors() + m.count(Outcome::timeout) <= 60);  // in flight, plus what finds no stream for ~100 ms
    // The last full second runs at the offered rate again.
    const IntervalRow* last = nullptr;
    for (auto& row : p.intervals)
      if (row.phase == "main" && row.second == 2) last = &row;
    REQUIRE(last != nullptr);
    CHECK(last->ok >= 360);
  }
}

TEST_CASE("faults: scenario entries are checked") {
  auto errors = [](const std::string& text) {
    try {
      load_scenario_text(text + "\n[[path]]\nkind = \"grpc_unary\"\n", "s.toml");
    } catch (const ScenarioError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(errors("[[fault]]\nat = \"1s\"\naction = \"kill_worker\"\ntarget = 1\n") == "accepted");
  CHECK(errors("[[fault]]\naction = \"kill_worker\"\n").find("fault[0]: missing key 'at'") != std::string::npos);
  CHECK(errors("[[fault]]\nat = \"1s\"\naction = \"explode\"\n")
            .find("fault[0].action: expected one of \"kill_worker\", \"restart_worker\", \"slow_worker\", "
                  "\"pause_worker\", \"resume_worker\", \"drop_connections\", \"pause_consumers\", "
                  "\"resume_consumers\", found \"explode\"") !=
        std::string::npos);
  CHECK(errors("[[fault]]\nat = \"1s\"\naction = \"kill_worker\"\ntarget = 5\n")
            .find("fault[0].target: expected a worker index in 0..1, found 5") != std::string::npos);
  CHECK(errors("[[fault]]\nat = \"1s\"\naction = \"slow_worker\"\n").find("slow_worker needs 'delay'") != std::string::npos);
  CHECK(errors("[workers]\nendpoints = [\"127.0.0.1:9\"]\n[[fault]]\nat = \"1s\"\naction = \"kill_worker\"\n")
            .find("faults act on spawned workers") != std::string::npos);
}
