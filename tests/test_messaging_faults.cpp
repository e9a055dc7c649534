// Scenario faults reaching one-way messaging's consumers (paths/message_consumers.h), end to end
// through the runner: kill_worker / restart_worker stop a worker's consumers abruptly (what they
// held unacknowledged is redelivered; nothing is lost) and pause_consumers / resume_consumers
// stop and resume them (the backlog grows, then drains). Over the embedded broker (loopback) and
// RabbitMQ / NATS JetStream (realmq suite, skipped when the server program is missing).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>
#include <thread>

#include "paths/endpoints.h"
#include "paths/message_consumers.h"
#include "paths/registry.h"
#include "runner/runner.h"
#include "scenario/loader.h"
#include "skip_guard.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::testing;

namespace {

constexpr int kRatePerS = 300;
constexpr Nanos kDurationNs = 3 * kNanosPerSecond;
constexpr Nanos kDrainNs = 15 * kNanosPerSecond;

// One messaging path over `via` at 300/s for 3 s, two workers of one consumer thread each.
RunResult messaging_run(const TempDir& dir, const std::string& via, bool durable, const std::string& faults) {
  Scenario s = load_scenario_text(fmt::format(R"(
name = "messaging-faults"
[load]
rate_per_s = {}
warmup = "0s"
duration = "3s"
[database]
path = "{}"
sales = 3000
[query]
mix = {{ echo = 1, point = 1 }}
[workers]
count = 2
threads = 1
[broker]
prefetch = 32
{}
[[path]]
kind = "messaging"
via = "{}"
durable = {}
drain = "15s"
)",
                                              kRatePerS, (dir / "sales.db").string(), faults, via, durable),
                                  "messaging-faults.toml");
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  return run_scenario(s, stop, {});
}

// What must hold whatever the fault: every publish accounted for, every confirmed message
// consumed (redeliveries counted as duplicates, none lost), the run over within its drain limit.
void check_accounting(const PathRunResult& path) {
  REQUIRE(path.failure == "");
  REQUIRE(path.phases.size() == 1);
  const PhaseStats& ph = path.phases[0];
  const auto& m = ph.messaging;
  CHECK(path.accounting_holds());
  CHECK(m.published == ph.issued);
  CHECK(m.confirmed >= kRatePerS * 2);
  CHECK(m.lost == 0);
  CHECK(m.duplicated >= 0);
  CHECK(m.consumed == m.confirmed + m.duplicated);
  CHECK(m.drain_ns >= 0);  // drained
  CHECK(path.elapsed_ns < kDurationNs + kDrainNs);
  MESSAGE(path.label, ": published ", m.published, ", confirmed ", m.confirmed, ", consumed ", m.consumed,
          ", duplicated ", m.duplicated, ", lost ", m.lost, ", backlog_max ", m.backlog_max, ", drain ",
          m.drain_ns / kNanosPerMilli, " ms");
}

// The backlog sampled at the end of second `second` (-1 when not sampled).
std::int64_t backlog_at(const PathRunResult& path, std::int64_t second) {
  for (auto& row : path.intervals)
    if (row.second == second) return row.backlog;
  return -1;
}

// Both workers' consumers killed at 1 s (nothing consumes, what they held goes back to the
// queue), both back at 2.5 s: the backlog at 2 s holds the second's messages, and all drain.
void kill_and_restart(const std::string& via, bool durable) {
  TempDir dir;
  PathRunResult path = messaging_run(dir, via, durable, R"(
[[fault]]
at = "1s"
action = "kill_worker"
target = 0
[[fault]]
at = "1s"
action = "kill_worker"
target = 1
[[fault]]
at = "2500ms"
action = "restart_worker"
target = 0
[[fault]]
at = "2500ms"
action = "restart_worker"
target = 1
)").paths.at(0);
  check_accounting(path);
  REQUIRE(path.faults.size() == 4);
  for (auto& f : path.faults) {
    CAPTURE(f.what);
    CHECK(f.what.find("skipped") == std::string::npos);  // applied: the consumers are the workers here
    CHECK(f.what.find("failed") == std::string::npos);
  }
  // ~300 published during the second nobody consumed; half of that is far above what a live
  // consumer leaves queued at this rate.
  CHECK(backlog_at(path, 1) >= kRatePerS / 2);
  CHECK(path.phases[0].messaging.backlog_max >= kRatePerS / 2);
}

// One worker's consumer killed at 1 s and not restarted: the other takes over what it held.
void kill_one(const std::string& via, bool durable) {
  TempDir dir;
  PathRunResult path = messaging_run(dir, via, durable, R"(
[[fault]]
at = "1s"
action = "kill_worker"
target = 0
)").paths.at(0);
  check_accounting(path);
  REQUIRE(path.faults.size() == 1);
  CHECK(path.faults[0].what == "kill_worker(0)");
}

// Paused 1 s -> 2.5 s: the backlog grows during the pause and is gone by the end of the drain.
void pause_and_resume(const std::string& via, bool durable) {
  TempDir dir;
  PathRunResult path = messaging_run(dir, via, durable, R"(
[[fault]]
at = "1s"
action = "pause_consumers"
[[fault]]
at = "2500ms"
action = "resume_consumers"
)").paths.at(0);
  check_accounting(path);
  REQUIRE(path.faults.size() == 2);
  CHECK(path.faults[0].what == "pause_consumers(0)");
  CHECK(path.faults[1].what == "resume_consumers(0)");
  const std::int64_t before = backlog_at(path, 0), during = backlog_at(path, 1);
  MESSAGE(via, ": backlog at 1 s ", before, ", at 2 s (paused) ", during);
  CHECK(during >= kRatePerS / 2);
  CHECK(during > before);
}

}  // namespace

TEST_CASE("messaging faults: a consumer group - kill, restart (paused if the group is), pause, logs kept") {
  broker::BrokerServer server(broker::BrokerServerOptions{});
  std::vector<MessageConsumerOptions> options(2);
  for (std::size_t i = 0; i < options.size(); ++i) {
    options[i].id = fmt::format("msg-{}", i);
    options[i].threads = 2;
    options[i].endpoint.kind = "embedded";
    options[i].endpoint.url = server.url();
    options[i].endpoint.request_queue = "pathbench.test.group";
  }
  MessageConsumerGroup group(options);
  CHECK(group.logs().size() == 4);
  CHECK(group.started() == 2);
  CHECK_FALSE(group.kill_worker(2));
  CHECK_FALSE(group.restart_worker(-1));
  CHECK(group.kill_worker(0));
  CHECK(group.kill_worker(0));  // already dead: still worker 0, nothing more to do
  CHECK(group.killed() == 1);
  CHECK(group.logs().size() == 4);  // the killed consumer's logs stay
  CHECK(group.pause_consumers(true));
  CHECK(group.restart_worker(0));
  CHECK(group.restart_worker(0));  // already up
  CHECK(group.started() == 3);
  CHECK(group.logs().size() == 6);  // appended after the others
  group.restore();
  CHECK(group.started() == 3);
  CHECK(group.kill_worker(1));
  group.restore();
  CHECK(group.started() == 4);
  CHECK(group.killed() == 2);
}

TEST_CASE("messaging faults: embedded - kill_worker stops the consumers, their messages are redelivered, nothing lost") {
  kill_and_restart("embedded", false);
  kill_one("embedded", false);
}

TEST_CASE("messaging faults: embedded - pause_consumers grows the backlog, resume drains it") {
  pause_and_resume("embedded", false);
}

// The cases below need rabbitmq-server / nats-server.
TEST_SUITE_BEGIN("realmq");

TEST_CASE("realmq: messaging faults over rabbitmq (durable) - kill_worker redelivers, pause_consumers backs up and drains") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("rabbitmq");
  kill_and_restart("rabbitmq", true);
  kill_one("rabbitmq", true);
  pause_and_resume("rabbitmq", true);
}

TEST_CASE("realmq: messaging faults over NATS JetStream - kill_worker redelivers, pause_consumers backs up and drains") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("nats");
  kill_and_restart("nats", true);
  kill_one("nats", true);
  pause_and_resume("nats", true);
}

TEST_SUITE_END();
