// The broker path as a producer/consumer workload (docs/broker-fronts.md): `producers` and
// `consumers` connections per client thread on the WebSocket and HTTP fronts, GopherMQ's
// /api/publish/async (`async = true` on the HTTP front), and a queue the consumers do not keep
// up with filling to [broker] max_pending: the overflow is rejected and counted, every request
// accounted for.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>

#include "paths/registry.h"
#include "runner/runner.h"
#include "scenario/loader.h"
#include "test_helpers.h"

using namespace pathbench;

namespace {

std::string error_of(const std::string& text) {
  try {
    load_scenario_text(text, "s.toml");
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "";
}

RunResult run_text(const std::string& text) {
  Scenario s = load_scenario_text(text, "workload.toml");
  std::atomic<bool> stop{false};
  return run_scenario(s, stop, {});
}

}  // namespace

TEST_CASE("broker workloads: producers and consumers only on the fronts that have both sides, with file:line:col") {
  CHECK(error_of("[[path]]\nkind = \"broker\"\nvia = \"websocket\"\nproducers = 4\nconsumers = 2\n") == "");
  CHECK(error_of("[[path]]\nkind = \"broker\"\nvia = \"http\"\nconsumers = 3\nasync = true\n") == "");
  const std::string async_ws = error_of("[[path]]\nkind = \"broker\"\nvia = \"websocket\"\nasync = true\n");
  CHECK(async_ws.find("s.toml:4:9") != std::string::npos);
  CHECK(async_ws.find("async applies to kind = \"broker\" with via = \"http\" only") != std::string::npos);
  const std::string native = error_of("[[path]]\nkind = \"broker\"\nvia = \"native\"\nproducers = 2\n");
  CHECK(native.find("s.toml:4:13") != std::string::npos);
  CHECK(native.find("producers and consumers apply to kind = \"broker\" with via = \"websocket\"") != std::string::npos);
  CHECK(error_of("[[path]]\nkind = \"messaging\"\nconsumers = 2\n").find("s.toml:3:13") != std::string::npos);
  CHECK(error_of("[[path]]\nkind = \"broker\"\nvia = \"http\"\nproducers = 0\n").find("s.toml:4:13") != std::string::npos);
  Scenario s = load_scenario_text("[[path]]\nkind = \"broker\"\nvia = \"http\"\n", "s.toml");
  CHECK(s.paths[0].producers == 1);
  CHECK(s.paths[0].consumers == 1);
  CHECK_FALSE(s.paths[0].publish_async);
}

TEST_CASE("broker workloads: concurrent producers and consumers over WebSocket, HTTP and /api/publish/async - each message consumed once") {
  RunResult r = run_text(R"(
[load]
rate_per_s = 1000
threads = 2
warmup = "0s"
duration = "2s"
deadline = "2s"
[[path]]
kind = "broker"
via = "websocket"
producers = 3
consumers = 2
[[path]]
kind = "broker"
via = "http"
producers = 2
consumers = 3
[[path]]
kind = "broker"
via = "http"
label = "http_async"
async = true
producers = 2
consumers = 2
)");
  REQUIRE(r.paths.size() == 3);
  for (auto& path : r.paths) {
    CAPTURE(path.label);
    REQUIRE(path.failure == "");
    const PhaseStats& ph = path.phases.back();
    CHECK(path.accounting_holds());
    CHECK(ph.issued >= 1900);
    // Nothing refused (the queues are far from full) and nothing lost: every publish came back.
    CHECK(ph.count(Outcome::ok) == ph.issued);
  }
  CHECK(r.paths[2].endpoint.find("/api/publish/async") != std::string::npos);
}

TEST_CASE("broker workloads: producers outrunning the consumers fill the queue - the overflow is rejected, counted, accounted for") {
  // Producers publish 30,000/s into each thread's queue of at most 8 messages while one consumer
  // takes them: the queue is full again and again, and the broker refuses what comes next at once
  // ("broker overflow" -> rejected), never dropping what it accepted. An HTTP producer has one
  // publish in flight (HTTP/1.1) and each fetch takes the whole list: more of them there.
  for (auto [via, producers] : {std::pair<std::string, int>{"websocket", 4}, {"http", 16}}) {
    CAPTURE(via);
    RunResult r = run_text(fmt::format(R"(
[load]
rate_per_s = 30000
concurrency = 4096
threads = 1
warmup = "0s"
duration = "2s"
deadline = "2s"
[broker]
max_pending = 8
[[path]]
kind = "broker"
via = "{}"
producers = {}
consumers = 1
{}
)",
                                       via, producers, via == "http" ? "async = true" : ""));
    REQUIRE(r.paths.size() == 1);
    auto& path = r.paths[0];
    REQUIRE(path.failure == "");
    const PhaseStats& ph = path.phases.back();
    CHECK(path.accounting_holds());
    CHECK(ph.completed() == ph.issued);
    const auto rejected = ph.count(Outcome::rejected);
    MESSAGE(via, via == "http" ? " (async)" : "", ": issued ", ph.issued, ", ok ", ph.count(Outcome::ok), ", rejected ", rejected, ", errors ", ph.errors(),
            ", timeouts ", ph.count(Outcome::timeout));
    CHECK(rejected > 0);
    CHECK(ph.count(Outcome::ok) > 0);
    CHECK(ph.count(Outcome::ok) + rejected + ph.errors() + ph.count(Outcome::timeout) == ph.issued);
  }
}
