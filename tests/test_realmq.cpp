// The queue path's real brokers: RabbitMQ (rabbitmq-c) and NATS (nats.c) against private servers
// started by mq::BrokerProcess (Debian's rabbitmq-server and nats-server; scripts/install-deps.sh
// --test installs them). One server per kind per test binary run, started on first use (RabbitMQ
// takes about 8 s); the server-stop cases come last in this file and take their server with them.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <map>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include "mq/backends.h"
#include "mq/reply_book.h"
#include "mq/server_process.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::mq;

namespace {

std::optional<BrokerProcess>& server_slot(const std::string& kind) {
  static std::map<std::string, std::optional<BrokerProcess>> servers;
  return servers[kind];
}

BrokerProcess& shared_server(const std::string& kind) {
  auto& slot = server_slot(kind);
  if (!slot || !slot->running()) slot.emplace(BrokerProcess::start(kind));
  return *slot;
}

Endpoint endpoint_for(const std::string& kind, const std::string& queue, int max_pending = 10000) {
  Endpoint e;
  e.kind = kind;
  e.url = shared_server(kind).url();
  e.request_queue = queue;
  e.max_pending = max_pending;
  e.timeout_ns = 5 * kNanosPerSecond;
  e.heartbeat_ns = 10 * kNanosPerSecond;
  return e;
}

std::unique_ptr<Requester> make_requester_for(const Endpoint& e, boost::asio::io_context& io, Requester::OnReply on_reply) {
  return e.kind == "rabbitmq" ? make_rabbitmq_requester(e, io, std::move(on_reply), 0)
                              : make_nats_requester(e, io, std::move(on_reply), 0);
}

Responder::HandlerFactory echo_handlers(int delay_ms = 0) {
  return [delay_ms](int) {
    return [delay_ms](std::string_view body) {
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      return std::string(body);
    };
  };
}

std::unique_ptr<Responder> make_responder_for(const Endpoint& e, int threads, Responder::HandlerFactory handlers,
                                              const std::string& id = "t") {
  return e.kind == "rabbitmq" ? make_rabbitmq_responder(e, threads, std::move(handlers), id)
                              : make_nats_responder(e, threads, std::move(handlers), id);
}

std::string body_of(std::uint64_t id) { return fmt::format("request-{}", id); }

// A closed-loop driver on the test's own io_context: `count` requests, at most `in_flight` out,
// until every request has its outcome or `limit_ns` passes. `on_progress(answered, outcome)` runs on the
// io thread after each outcome (for fault injection); when it returns false no more requests are
// issued and the drive ends once those out are answered.
struct Drive {
  std::map<std::uint64_t, std::vector<std::pair<Outcome, std::string>>> answers;
  std::vector<Nanos> latencies_ns;  // ok replies only
  std::uint64_t issued = 0, answered = 0, duplicates = 0;
  Nanos elapsed_ns = 0;
  std::string start_error;

  std::uint64_t count(Outcome o) const {
    std::uint64_t n = 0;
    for (auto& [id, list] : answers)
      for (auto& a : list) n += a.first == o;
    return n;
  }
};

Drive drive(const Endpoint& e, std::uint64_t count, std::uint64_t in_flight, Nanos limit_ns,
            std::function<bool(std::uint64_t answered, Outcome outcome)> on_progress = {}) {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);  // replies arrive by post from other threads
  Drive d;
  std::map<std::uint64_t, Nanos> sent_at;
  std::unique_ptr<Requester> requester;
  bool started = false, closed = false;
  auto issue_more = [&] {
    while (started && !closed && d.issued < count && d.issued - d.answered < in_flight) {
      std::uint64_t id = ++d.issued;
      sent_at[id] = now_ns();
      requester->request(id, body_of(id));
    }
  };
  requester = make_requester_for(e, io, [&](std::uint64_t id, Outcome outcome, std::string_view body) {
    d.answers[id].emplace_back(outcome, std::string(body));
    if (outcome == Outcome::ok) d.latencies_ns.push_back(now_ns() - sent_at[id]);
    ++d.answered;
    if (on_progress && !on_progress(d.answered, outcome)) closed = true;
    issue_more();
  });
  const Nanos t0 = now_ns();
  requester->start([&](std::string error) {
    d.start_error = error;
    started = error.empty();
    issue_more();
  });
  const Nanos deadline = t0 + limit_ns;
  while (d.answered < (closed ? d.issued : count) && d.start_error.empty() && now_ns() < deadline)
    io.run_for(std::chrono::milliseconds(5));
  d.elapsed_ns = now_ns() - t0;
  d.duplicates = requester->duplicates();
  requester->stop();
  return d;
}

Nanos percentile(std::vector<Nanos> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

void echo_round(const std::string& kind) {
  Endpoint e = endpoint_for(kind, "pathbench.test.echo");
  auto responder = make_responder_for(e, 2, echo_handlers());
  Drive d = drive(e, 1000, 64, 20 * kNanosPerSecond);
  REQUIRE(d.start_error == "");
  CHECK(d.answered == 1000);
  CHECK(d.answers.size() == 1000);
  CHECK(d.duplicates == 0);
  std::uint64_t exact = 0;
  for (auto& [id, list] : d.answers)
    exact += list.size() == 1 && list[0].first == Outcome::ok && list[0].second == body_of(id);
  CHECK(exact == 1000);
  auto stats = responder->stats();
  CHECK(stats.consumed == 1000);
  CHECK(stats.replied == 1000);
}

}  // namespace

TEST_CASE("reply book: exactly one outcome per id, direct and through the mailbox, duplicates counted") {
  boost::asio::io_context io;
  std::vector<std::tuple<std::uint64_t, Outcome, std::string>> got;
  auto book = std::make_shared<detail::ReplyBook>(
      io, [&](std::uint64_t id, Outcome outcome, std::string_view body) { got.emplace_back(id, outcome, body); });
  using Kind = detail::ReplyBook::Kind;
  for (std::uint64_t id = 1; id <= 4; ++id) book->issue(id);
  book->settle(Kind::reply, 1, Outcome::ok, "one");             // direct: answered now
  book->settle(Kind::reply, 1, Outcome::ok, "one again");       // a second reply: a duplicate
  book->settle(Kind::failure, 1, Outcome::rejected, {});        // a late failure: not news
  book->settle(Kind::failure, 2, Outcome::rejected, "ignored");  // a failure carries no body
  REQUIRE(got.size() == 2);
  CHECK(got[0] == std::tuple<std::uint64_t, Outcome, std::string>{1, Outcome::ok, "one"});
  CHECK(got[1] == std::tuple<std::uint64_t, Outcome, std::string>{2, Outcome::rejected, ""});
  CHECK(book->duplicates() == 1);
  book->reply(3, "three");                     // mailbox: nothing until the io_context runs
  book->fail_all(Outcome::transport_error);    // ends 4 (3 is answered first, in order)
  CHECK(got.size() == 2);
  io.run();
  REQUIRE(got.size() == 4);
  CHECK(got[2] == std::tuple<std::uint64_t, Outcome, std::string>{3, Outcome::ok, "three"});
  CHECK(got[3] == std::tuple<std::uint64_t, Outcome, std::string>{4, Outcome::transport_error, ""});
  book->issue(5);
  book->stop();  // nothing after stop
  book->settle_all(Outcome::transport_error);
  book->reply(5, "five");
  io.restart();
  io.run();
  CHECK(got.size() == 4);
}

TEST_CASE("realmq: a missing server program is named with its Debian package") {
  testing::TempDir empty;
  BrokerOptions options;
  options.search_path = empty.path().string();
  CHECK_THROWS_WITH_AS(BrokerProcess::start("rabbitmq", options),
                       doctest::Contains("rabbitmq-server was not found"), std::runtime_error);
  CHECK_THROWS_WITH_AS(BrokerProcess::start("rabbitmq", options),
                       doctest::Contains("install the Debian package rabbitmq-server"), std::runtime_error);
  CHECK_THROWS_WITH_AS(BrokerProcess::start("nats", options),
                       doctest::Contains("install the Debian package nats-server"), std::runtime_error);
  CHECK_THROWS_WITH_AS(BrokerProcess::start("kafka"), doctest::Contains("only rabbitmq and nats"), std::runtime_error);
}

TEST_CASE("realmq: factories throw with the reason when nothing listens") {
  Endpoint e;
  e.timeout_ns = 2 * kNanosPerSecond;
  e.kind = "rabbitmq";
  e.url = "amqp://guest:guest@127.0.0.1:1/";
  CHECK_THROWS_WITH_AS(make_rabbitmq_responder(e, 1, echo_handlers(), "t"), doctest::Contains("rabbitmq at"),
                       std::runtime_error);
  e.kind = "nats";
  e.url = "nats://127.0.0.1:1";
  CHECK_THROWS_WITH_AS(make_nats_responder(e, 1, echo_handlers(), "t"), doctest::Contains("nats at"),
                       std::runtime_error);
  // A requester reports through start(done), then answers unavailable.
  Drive d = drive(e, 3, 3, 5 * kNanosPerSecond);
  CHECK(d.start_error.find("nats at") != std::string::npos);
}

TEST_CASE("realmq: rabbitmq echo, 1000 requests with 64 in flight, each answered once with its body") {
  echo_round("rabbitmq");
}

TEST_CASE("realmq: nats echo, 1000 requests with 64 in flight, each answered once with its body") {
  echo_round("nats");
}

TEST_CASE("realmq: rabbitmq direct reply-to") {
  Endpoint e = endpoint_for("rabbitmq", "pathbench.test.direct");
  e.direct_reply_to = true;
  auto responder = make_responder_for(e, 1, echo_handlers());
  Drive d = drive(e, 200, 16, 10 * kNanosPerSecond);
  REQUIRE(d.start_error == "");
  CHECK(d.count(Outcome::ok) == 200);
}

TEST_CASE("realmq: rabbitmq queue full at max_pending with the responder paused - the rest are rejected") {
  Endpoint e = endpoint_for("rabbitmq", "pathbench.test.overflow", 10);
  auto responder = make_responder_for(e, 2, echo_handlers());
  responder->pause(true);
  bool resumed = false;
  // 30 at once: 10 fit the queue, 20 are nacked (x-overflow = reject-publish). When the 20
  // rejections are in, resume: the 10 queued ones are answered.
  Drive d = drive(e, 30, 30, 15 * kNanosPerSecond, [&](std::uint64_t answered, Outcome) {
    if (answered == 20 && !resumed) {
      resumed = true;
      responder->pause(false);
    }
    return true;
  });
  REQUIRE(d.start_error == "");
  CHECK(d.count(Outcome::rejected) == 20);
  CHECK(d.count(Outcome::ok) == 10);
  CHECK(d.answers.size() == 30);
  CHECK(responder->stats().consumed == 10);
}

TEST_CASE("realmq: nats has no queue - with every responder paused requests come back unavailable (no responders)") {
  Endpoint e = endpoint_for("nats", "pathbench.test.overflow", 10);
  auto responder = make_responder_for(e, 2, echo_handlers());
  responder->pause(true);
  Drive d = drive(e, 30, 30, 10 * kNanosPerSecond);
  REQUIRE(d.start_error == "");
  CHECK(d.count(Outcome::unavailable) == 30);
  responder->pause(false);
  Drive after = drive(e, 30, 30, 10 * kNanosPerSecond);
  CHECK(after.count(Outcome::ok) == 30);
}

TEST_CASE("realmq: rabbitmq requests held by a responder that stops are redelivered to another") {
  Endpoint e = endpoint_for("rabbitmq", "pathbench.test.redeliver");
  e.prefetch = 16;
  auto slow = make_responder_for(e, 1, echo_handlers(5), "slow");
  auto other = make_responder_for(e, 1, echo_handlers(), "other");
  Drive d = drive(e, 300, 64, 20 * kNanosPerSecond, [&](std::uint64_t answered, Outcome) {
    if (answered == 60) slow->stop();  // with up to 16 unacknowledged deliveries
    return true;
  });
  REQUIRE(d.start_error == "");
  CHECK(d.count(Outcome::ok) == 300);
  CHECK(d.answers.size() == 300);
  CHECK(other->stats().redelivered > 0);
  MESSAGE("redelivered to the other responder: ", other->stats().redelivered, ", duplicates: ", d.duplicates);
}

TEST_CASE("realmq: round trip at 1 in flight and rate at 64 in flight, echo, 2 responder threads (printed)") {
  for (std::string kind : {"rabbitmq", "nats"}) {
    Endpoint e = endpoint_for(kind, "pathbench.test.measure");
    auto responder = make_responder_for(e, 2, echo_handlers());
    drive(e, 500, 1, 10 * kNanosPerSecond);  // warm-up
    Drive one = drive(e, 3000, 1, 20 * kNanosPerSecond);
    Drive many = drive(e, 30000, 64, 20 * kNanosPerSecond);
    CHECK(one.count(Outcome::ok) == 3000);
    CHECK(many.count(Outcome::ok) == many.answered);
    MESSAGE(fmt::format("{}: 1 in flight p50 {:.1f} us p99 {:.1f} us; 64 in flight {:.0f} req/s (p50 {:.1f} us)", kind,
                        percentile(one.latencies_ns, 0.5) / 1e3, percentile(one.latencies_ns, 0.99) / 1e3,
                        many.answered * 1e9 / std::max<Nanos>(many.elapsed_ns, 1),
                        percentile(many.latencies_ns, 0.5) / 1e3));
  }
}

// These take the shared servers down: keep them last.
TEST_CASE("realmq: requests end transport_error or unavailable when the server stops mid-run") {
  for (std::string kind : {"nats", "rabbitmq"}) {
    CAPTURE(kind);
    Endpoint e = endpoint_for(kind, "pathbench.test.serverstop");
    auto responder = make_responder_for(e, 2, echo_handlers());
    std::optional<BrokerProcess> server = std::move(server_slot(kind));
    server_slot(kind).reset();
    std::thread stopper;
    std::uint64_t answered_at_failure = 0;
    // Closed loop until 500 requests have ended after the first failure.
    Drive d = drive(e, 10'000'000, 64, 30 * kNanosPerSecond, [&](std::uint64_t answered, Outcome outcome) {
      if (answered == 300) stopper = std::thread([&] { server->stop(); });
      if (outcome != Outcome::ok && answered_at_failure == 0) answered_at_failure = answered;
      return answered_at_failure == 0 || answered < answered_at_failure + 500;
    });
    if (stopper.joinable()) stopper.join();
    REQUIRE(d.start_error == "");
    CHECK(answered_at_failure > 300);
    CHECK(d.answered == d.issued);  // every request got its one outcome, none hung
    CHECK(d.answers.size() == d.issued);
    std::uint64_t failed = d.count(Outcome::transport_error) + d.count(Outcome::unavailable);
    CHECK(d.count(Outcome::ok) + failed == d.issued);
    CHECK(failed >= 500);
    MESSAGE(kind, ": ok ", d.count(Outcome::ok), ", transport_error ", d.count(Outcome::transport_error),
            ", unavailable ", d.count(Outcome::unavailable), " in ", d.elapsed_ns / 1'000'000, " ms");
    responder->stop();
  }
}
