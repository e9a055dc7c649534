// One-way messaging (paths/messaging.h): the ledger's arithmetic on known logs, the consumer role
// and the one-way publisher over the embedded broker (loopback) and the real brokers (realmq
// suite), whole runs through the runner, and the scenario keys' validation.
#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include <atomic>
#include <functional>
#include <optional>
#include <thread>

#include "broker/broker_server.h"
#include "db/seeder.h"
#include "mq/messaging_probe.h"
#include "mq/mq.h"
#include "mq/server_process.h"
#include "pathbench.pb.h"
#include "report/writer.h"
#include "paths/messaging_ledger.h"
#include "paths/registry.h"
#include "roles/message_consumer.h"
#include "runner/runner.h"
#include "scenario/loader.h"
#include "skip_guard.h"
#include "test_helpers.h"
#include "wire/query_codec.h"

using namespace pathbench;

namespace {

constexpr std::uint32_t kRun = 1;

// One phase from 0 to an hour: every test message falls in it.
std::vector<PhasePlan> one_phase() { return {PhasePlan{"main", 0, 3600 * kNanosPerSecond, 100, true, 0}}; }

std::string make_message(std::uint64_t key, Nanos intended_ns, const Query& query = {}) {
  v1::QueryRequest request;
  to_proto(query, 0, request);
  std::string body;
  make_message_body(key, intended_ns, request.SerializeAsString(), 64, body);
  return body;
}

// A one-way publisher on the test's own io_context: `count` messages (keys message_key(kRun, 0,
// 1..count)), at most `in_flight` unconfirmed, until each has its outcome or `limit_ns` passes.
// `on_outcome(answered, outcome)` runs after each outcome (for fault injection); when it returns
// false nothing more is published and the run ends once what is out has its outcome.
struct Published {
  std::vector<std::pair<std::uint64_t, Nanos>> confirmed;  // (key, intended)
  std::uint64_t issued = 0, answered = 0, rejected = 0, failed = 0;
  Nanos elapsed_ns = 0;
  std::string start_error;
};

Published publish(mq::Endpoint e, std::uint64_t count, std::uint64_t in_flight, Nanos limit_ns,
                  std::function<bool(std::uint64_t answered, Outcome outcome)> on_outcome = {},
                  const Query& query = {}) {
  e.one_way = true;
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  Published p;
  std::vector<Nanos> intended(count + 1, 0);
  std::unique_ptr<mq::Requester> requester;
  bool started = false, closed = false;
  auto more = [&] {
    while (started && !closed && p.issued < count && p.issued - p.answered < in_flight) {
      const std::uint64_t id = ++p.issued;
      intended[id] = now_ns();
      requester->request(id, make_message(message_key(kRun, 0, id), intended[id], query));
    }
  };
  requester = mq::make_requester(e, io, [&](std::uint64_t id, Outcome outcome, std::string_view) {
    ++p.answered;
    if (outcome == Outcome::ok) p.confirmed.emplace_back(message_key(kRun, 0, id), intended[id]);
    else if (outcome == Outcome::rejected) ++p.rejected;
    else ++p.failed;
    if (on_outcome && !on_outcome(p.answered, outcome)) closed = true;
    more();
  }, 0);
  const Nanos t0 = now_ns();
  requester->start([&](std::string error) {
    p.start_error = error;
    started = error.empty();
    more();
  });
  while (p.answered < (closed ? p.issued : count) && p.start_error.empty() && now_ns() < t0 + limit_ns)
    io.run_for(std::chrono::milliseconds(5));
  p.elapsed_ns = now_ns() - t0;
  requester->stop();
  return p;
}

// Feeds what was confirmed and what the consumers logged into a ledger, waiting (up to limit_ns)
// until every confirmed message was consumed.
MessageLedger settle(const Published& p, const std::vector<const MessageConsumer*>& consumers, Nanos limit_ns) {
  MessageLedger ledger(kRun, 0, one_phase());
  for (auto& [key, intended] : p.confirmed) ledger.confirmed(key, intended);
  std::vector<const ConsumeLog*> logs;
  for (auto* c : consumers)
    for (auto* l : c->logs()) logs.push_back(l);
  std::vector<std::size_t> cursors(logs.size(), 0);
  const Nanos give_up = now_ns() + limit_ns;
  for (;;) {
    for (std::size_t i = 0; i < logs.size(); ++i) ledger.ingest(*logs[i], cursors[i]);
    if (ledger.missing() == 0 || now_ns() > give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ledger;
}

PhaseStats::Messaging fold(const MessageLedger& ledger, std::int64_t ok) {
  std::vector<PhaseStats> phases(1);
  phases[0].issued = ok;
  phases[0].outcomes[static_cast<std::size_t>(Outcome::ok)] = ok;
  ledger.fill(phases);
  return phases[0].messaging;
}

// Work that takes a while (~ms): a heavy query over every sale of category 1, on a database
// seeded in `dir` — so a consumer killed soon after it starts still holds most of its messages.
Query slow_work() {
  Query q;
  q.kind = QueryKind::heavy;
  q.from_epoch_s = 0;
  q.to_epoch_s = 4'000'000'000;
  q.category_id = 1;
  q.minute_from = 0;
  q.minute_to = 1439;
  return q;
}
std::filesystem::path seeded_database(const testing::TempDir& dir) {
  const auto path = dir / "sales.db";
  seed_database({path, 100'000, 5, true});
  return path;
}

mq::Endpoint embedded_endpoint(broker::BrokerServer& server, const std::string& queue, int max_pending = 10000) {
  mq::Endpoint e;
  e.kind = "embedded";
  e.url = server.url();
  e.request_queue = queue;
  e.max_pending = max_pending;
  e.prefetch = 16;
  return e;
}

}  // namespace

TEST_CASE("messaging: message body round trip, and the ledger's known answer") {
  std::string body;
  make_message_body(message_key(7, 3, 42), 123456789, "query-bytes", 64, body);
  CHECK(body.size() == 64);
  std::uint64_t key = 0;
  Nanos intended = 0;
  std::string_view query;
  REQUIRE(parse_message_body(body, key, intended, query));
  CHECK(key == message_key(7, 3, 42));
  CHECK(run_of_key(key) == 7);
  CHECK(intended == 123456789);
  CHECK(query == "query-bytes");
  CHECK_FALSE(parse_message_body("short", key, intended, query));

  // Five confirmed; consumed: 1, 2 twice (a redelivery), 3 expired, 4 failed its work; 5 never.
  // One record of another run and one unreadable one are ignored.
  const Nanos ms = kNanosPerMilli;
  ConsumeLog log;
  log.append({message_key(kRun, 0, 1), 0, 2 * ms, false, false});
  log.append({message_key(kRun, 0, 2), 0, 5 * ms, false, false});
  log.append({message_key(kRun, 0, 2), 0, 9 * ms, false, false});
  log.append({message_key(kRun, 0, 3), 0, 7 * ms, true, false});
  log.append({message_key(kRun, 0, 4), 0, 8 * ms, false, true});
  log.append({message_key(kRun + 1, 0, 1), 0, 1 * ms, false, false});
  log.append({0, 0, 1 * ms, false, true});
  MessageLedger ledger(kRun, 0, one_phase());
  for (std::uint64_t id = 1; id <= 5; ++id) ledger.confirmed(message_key(kRun, 0, id), 0);
  std::size_t cursor = 0;
  ledger.ingest(log, cursor);
  CHECK(cursor == 7);
  CHECK(ledger.missing() == 1);
  CHECK(ledger.consumed() == 5);
  CHECK(ledger.last_consumed_ns() == 8 * ms);
  std::vector<PhaseStats> phases(1);
  phases[0].issued = 6;
  phases[0].outcomes[static_cast<std::size_t>(Outcome::ok)] = 5;
  phases[0].outcomes[static_cast<std::size_t>(Outcome::rejected)] = 1;
  phases[0].latency.record(100);  // the publish side, as the load generator recorded it
  ledger.fill(phases);
  const auto& m = phases[0].messaging;
  CHECK(m.present);
  CHECK(m.published == 6);
  CHECK(m.confirmed == 5);
  CHECK(m.consumed == 5);
  CHECK(m.duplicated == 1);
  CHECK(m.lost == 1);
  CHECK(m.expired == 1);
  // Lost and expired: not ok end to end, timeouts instead; the issued total still adds up.
  CHECK(phases[0].count(Outcome::ok) == 3);
  CHECK(phases[0].count(Outcome::timeout) == 2);
  CHECK(phases[0].completed() == phases[0].issued);
  CHECK(phases[0].publish_latency.total_count() == 1);
  CHECK(phases[0].latency.total_count() == 2);  // 1 and 2's first delivery: end to end
  CHECK(phases[0].latency.max() >= 5 * ms);
  CHECK(phases[0].latency.max() < 6 * ms);
  auto per_second = ledger.consumed_per_second(2);
  CHECK(per_second[0] == 4);  // first deliveries of 1..4
  CHECK(per_second[1] == 0);
}

TEST_CASE("messaging: the keys are refused on other kinds, durable not on the embedded broker, with file:line:col") {
  auto error_of = [](const std::string& text) -> std::string {
    try {
      load_scenario_text(text, "s.toml");
    } catch (const ScenarioError& e) {
      return e.what();
    }
    return "";
  };
  CHECK(error_of("[[path]]\nkind = \"grpc_unary\"\ndrain = \"5s\"\n").find("s.toml:3:9") != std::string::npos);
  CHECK(error_of("[[path]]\nkind = \"tcp_echo\"\nmax_age = \"5s\"\n").find("apply to kind = \"messaging\"") !=
        std::string::npos);
  CHECK(error_of("[[path]]\nkind = \"messaging\"\nvia = \"nats\"\ndurable = true\n") == "");
  const std::string embedded = error_of("[[path]]\nkind = \"messaging\"\nvia = \"embedded\"\ndurable = true\n");
  CHECK(embedded.find("s.toml:4:11") != std::string::npos);
  CHECK(embedded.find("embedded broker keeps messages in memory") != std::string::npos);
  CHECK(error_of("[[path]]\nkind = \"messaging\"\ndurable = true\n").find("embedded broker keeps messages in memory") !=
        std::string::npos);
  CHECK(error_of("[[path]]\nkind = \"messaging\"\nvia = \"rabbitmq\"\ndurable = true\nmax_age = \"2s\"\ndrain = \"5s\"\n") == "");
  Scenario s = load_scenario_text("[[path]]\nkind = \"messaging\"\nmax_age = \"250ms\"\n", "s.toml");
  CHECK(s.paths[0].via == "embedded");
  CHECK(s.paths[0].max_age_ns == 250 * kNanosPerMilli);
  CHECK(s.paths[0].drain_ns == 30 * kNanosPerSecond);
}

TEST_CASE("messaging: embedded, every confirmed message consumed once; a full queue rejects, counted") {
  broker::BrokerServer server(broker::BrokerServerOptions{});
  mq::Endpoint e = embedded_endpoint(server, "pathbench.test.messages", 10);
  MessageConsumerOptions o;
  o.threads = 2;
  o.endpoint = e;
  MessageConsumer consumer(o);
  auto probe = mq::make_backlog_probe(e, &server.broker());
  CHECK(probe->depth() == 0);
  // Paused: 10 fit the queue, 20 are refused at once.
  consumer.pause(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the embedded consumer's pause is posted
  Published full = publish(e, 30, 30, 10 * kNanosPerSecond);
  REQUIRE(full.start_error == "");
  CHECK(full.confirmed.size() == 10);
  CHECK(full.rejected == 20);
  CHECK(probe->depth() == 10);
  consumer.pause(false);
  MessageLedger ledger = settle(full, {&consumer}, 10 * kNanosPerSecond);
  auto m = fold(ledger, 10);
  CHECK(m.consumed == 10);
  CHECK(m.lost == 0);
  CHECK(m.duplicated == 0);
  CHECK(probe->depth() == 0);
}

TEST_CASE("messaging: embedded, a consumer killed with messages unacknowledged - redelivered, nothing lost") {
  testing::TempDir dir;
  broker::BrokerServer server(broker::BrokerServerOptions{});
  mq::Endpoint e = embedded_endpoint(server, "pathbench.test.kill");
  e.prefetch = 2000;  // the first consumer takes everything: killing it must hand it all back
  MessageConsumerOptions o;
  o.threads = 1;
  o.endpoint = e;
  o.id = "first";
  o.db_path = seeded_database(dir);
  auto first = std::make_unique<MessageConsumer>(o);
  first->pause(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Published p = publish(e, 2000, 2000, 10 * kNanosPerSecond, {}, slow_work());
  REQUIRE(p.confirmed.size() == 2000);
  first->pause(false);
  // Killed as soon as it has consumed a few: the broker still counts the rest as unacked.
  const Nanos until = now_ns() + 5 * kNanosPerSecond;
  while (first->logs()[0]->size() < 5 && now_ns() < until) std::this_thread::yield();
  first->kill();
  const auto done_by_first = first->logs()[0]->size();
  o.id = "second";
  o.threads = 2;
  MessageConsumer second(o);
  MessageLedger ledger = settle(p, {first.get(), &second}, 60 * kNanosPerSecond);
  auto m = fold(ledger, 2000);
  CHECK(m.lost == 0);
  CHECK(m.consumed == 2000 + m.duplicated);
  broker::QueueStats stats;
  REQUIRE(server.broker().queue_stats("pathbench.test.kill", stats) == broker::Status::ok);
  MESSAGE("consumed by the first before the kill: ", done_by_first, ", redelivered: ", stats.redelivered,
          ", duplicated: ", m.duplicated);
  CHECK(done_by_first < 2000);
  CHECK(stats.redelivered > 0);
}

TEST_CASE("messaging: a whole run over the embedded broker - accounting, backlog column, max_age") {
  testing::TempDir dir;
  const std::string text = fmt::format(R"(
name = "m"
[load]
rate_per_s = 400
warmup = "0s"
duration = "2s"
[database]
path = "{}"
sales = 3000
[query]
mix = {{ echo = 1, point = 1, heavy = 1 }}
)", (dir / "sales.db").string()) + R"(
[workers]
count = 2
threads = 1
[[path]]
kind = "messaging"
drain = "5s"
[[path]]
kind = "messaging"
label = "aged"
max_age = "1us"
drain = "5s"
)";
  Scenario s = load_scenario_text(text, "m.toml");
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  REQUIRE(r.paths.size() == 2);
  for (auto& path : r.paths) {
    CAPTURE(path.label);
    REQUIRE(path.failure == "");
    REQUIRE(path.phases.size() == 1);
    const PhaseStats& ph = path.phases[0];
    const auto& m = ph.messaging;
    CHECK(m.present);
    CHECK(path.accounting_holds());
    CHECK(m.published == ph.issued);
    CHECK(m.confirmed == ph.count(Outcome::ok) + m.lost + m.expired);
    CHECK(m.published >= 700);
    CHECK(m.lost == 0);
    CHECK(m.consumed == m.confirmed + m.duplicated);
    CHECK(m.drain_ns >= 0);
    CHECK(m.backlog_max >= 0);
    CHECK(ph.publish_latency.total_count() == m.confirmed);
    if (path.label == "aged") {
      CHECK(m.expired == m.confirmed);  // nothing is consumed within a microsecond of its intended time
      CHECK(ph.latency.total_count() == 0);
      CHECK(ph.count(Outcome::ok) == 0);
      CHECK(ph.count(Outcome::timeout) == m.expired);
    } else {
      CHECK(m.expired == 0);
      CHECK(ph.latency.total_count() == m.confirmed);
    }
    REQUIRE(!path.intervals.empty());
    CHECK(path.intervals[0].backlog >= 0);
    std::int64_t consumed = 0;
    for (auto& row : path.intervals) consumed += row.consumed;
    CHECK(consumed == m.confirmed);
  }
  // The result files: the messaging columns (only in a run with a messaging path), the publish spectrum.
  write_results(r, dir / "out");
  const std::string summary = testing::read_file(dir / "out" / "summary.csv");
  CHECK(summary.find(",failure,publish_p50_us,publish_p99_us,published,confirmed,consumed,duplicated,lost,expired,"
                     "backlog_max,drain_s\n") != std::string::npos);
  const std::string series = testing::read_file(dir / "out" / "timeseries.csv");
  CHECK(series.find(",in_flight,marker,backlog,consumed\n") != std::string::npos);
  CHECK(std::filesystem::exists(dir / "out" / "messaging.publish.hgrm"));
}

// The cases below need rabbitmq-server and/or nats-server.
TEST_SUITE_BEGIN("realmq");

TEST_CASE("realmq: messaging whole runs over rabbitmq (durable), core nats and JetStream - accounting holds, nothing lost") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("rabbitmq");
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("nats");
  testing::TempDir dir;
  const std::string text = fmt::format(R"(
name = "m"
[load]
rate_per_s = 300
warmup = "0s"
duration = "2s"
[database]
path = "{}"
sales = 3000
[query]
mix = {{ echo = 1, point = 1 }}
)", (dir / "sales.db").string()) + R"(
[workers]
count = 2
threads = 1
[[path]]
kind = "messaging"
via = "rabbitmq"
durable = true
drain = "10s"
[[path]]
kind = "messaging"
via = "nats"
drain = "10s"
[[path]]
kind = "messaging"
via = "nats"
label = "jetstream"
durable = true
drain = "10s"
)";
  Scenario s = load_scenario_text(text, "m.toml");
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  REQUIRE(r.paths.size() == 3);
  for (auto& path : r.paths) {
    CAPTURE(path.label);
    REQUIRE(path.failure == "");
    const PhaseStats& ph = path.phases[0];
    const auto& m = ph.messaging;
    CHECK(path.accounting_holds());
    CHECK(m.published == ph.issued);
    CHECK(m.confirmed == ph.count(Outcome::ok) + m.lost + m.expired);
    CHECK(m.confirmed >= 500);
    // Core NATS may drop (no broker ack, no queue); at this rate on loopback it does not.
    CHECK(m.lost == 0);
    CHECK(m.consumed == m.confirmed + m.duplicated);
    CHECK(ph.latency.total_count() == m.confirmed);
    CHECK(path.intervals[0].backlog >= 0);
  }
}

namespace {
void overflow_and_kill(const std::string& kind) {
  testing::TempDir dir;
  mq::BrokerProcess server = mq::BrokerProcess::start(kind);
  mq::Endpoint e;
  e.kind = kind;
  e.url = server.url();
  e.request_queue = "pathbench.test.messages";
  e.max_pending = 10;
  e.durable = true;
  MessageConsumerOptions o;
  o.threads = 1;
  o.endpoint = e;
  o.id = "first";
  auto first = std::make_unique<MessageConsumer>(o);
  auto probe = mq::make_backlog_probe(e, nullptr);
  first->pause(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a JetStream fetch in progress ends
  Published full = publish(e, 30, 30, 20 * kNanosPerSecond);
  REQUIRE(full.start_error == "");
  CHECK(full.confirmed.size() == 10);
  CHECK(full.rejected == 20);
  CHECK(probe->depth() == 10);

  // Now room for 2000, taken by the first consumer with a large prefetch and killed early.
  e.request_queue = "pathbench.test.kill";
  e.max_pending = 5000;
  e.prefetch = 2000;
  o.endpoint = e;
  o.id = "second";
  o.db_path = seeded_database(dir);
  auto second = std::make_unique<MessageConsumer>(o);
  second->pause(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Published p = publish(e, 2000, 500, 30 * kNanosPerSecond, {}, slow_work());
  REQUIRE(p.confirmed.size() == 2000);
  CHECK(second->logs()[0]->size() == 0);
  // Killed from another thread as soon as it has consumed a few: RabbitMQ's pause(false) returns
  // only once its consumer has handled what the broker pushed (up to the prefetch).
  std::thread killer([&] {
    const Nanos until = now_ns() + 10 * kNanosPerSecond;
    while (second->logs()[0]->size() < 5 && now_ns() < until) std::this_thread::yield();
    second->kill();
  });
  second->pause(false);
  killer.join();
  const auto done_by_second = second->logs()[0]->size();
  o.id = "third";
  o.threads = 2;
  MessageConsumer third(o);
  MessageLedger ledger = settle(p, {second.get(), &third}, 60 * kNanosPerSecond);
  auto m = fold(ledger, 2000);
  CHECK(m.lost == 0);
  CHECK(m.consumed == 2000 + m.duplicated);
  MESSAGE(kind, ": consumed before the kill: ", done_by_second, ", redelivered to the next: ", third.stats().redelivered,
          ", duplicated: ", m.duplicated);
  CHECK(done_by_second < 2000);
  // RabbitMQ flags redeliveries; the JetStream consumer does not count them (mq/jetstream.cpp),
  // but nothing lost above means the killed consumer's messages reached the next one.
  if (kind == "rabbitmq") CHECK(third.stats().redelivered > 0);
}
}  // namespace

TEST_CASE("realmq: messaging over rabbitmq - a full queue rejects; a killed consumer's messages are redelivered") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("rabbitmq");
  overflow_and_kill("rabbitmq");
}

TEST_CASE("realmq: messaging over JetStream - a full stream rejects; a killed consumer's messages are redelivered") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("nats");
  overflow_and_kill("nats");
}

TEST_CASE("realmq: messaging - the broker killed mid-run: publish failures counted, the publisher ends on time") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("rabbitmq");
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("nats");
  for (std::string kind : {"nats", "rabbitmq"}) {
    CAPTURE(kind);
    std::optional<mq::BrokerProcess> server = mq::BrokerProcess::start(kind);
    mq::Endpoint e;
    e.kind = kind;
    e.url = server->url();
    e.request_queue = "pathbench.test.brokerstop";
    e.max_pending = 10'000'000;  // nothing consumes: the queue's bound must not be what refuses
    e.timeout_ns = 2 * kNanosPerSecond;
    std::thread stopper;
    std::uint64_t failed_at = 0;
    // The server is told to stop after 300 outcomes; publishing goes on until 500 more have
    // ended after the first failure.
    Published p = publish(e, 2'000'000, 64, 30 * kNanosPerSecond, [&](std::uint64_t answered, Outcome outcome) {
      if (answered == 300) stopper = std::thread([&] { server->stop(); });
      if (outcome != Outcome::ok && failed_at == 0) failed_at = answered;
      return failed_at == 0 || answered < failed_at + 500;
    });
    if (stopper.joinable()) stopper.join();
    REQUIRE(p.start_error == "");
    CHECK(p.elapsed_ns < 30 * kNanosPerSecond + 2 * kNanosPerSecond);  // never a hang
    CHECK(p.answered == p.issued);  // every publish has its one outcome
    CHECK(p.confirmed.size() + p.rejected + p.failed == p.issued);
    CHECK(p.failed >= 500);
    CHECK(failed_at > 300);
    MESSAGE(kind, ": confirmed ", p.confirmed.size(), ", failed ", p.failed, " of ", p.issued, " in ",
            p.elapsed_ns / kNanosPerMilli, " ms");
  }
}

TEST_SUITE_END();
