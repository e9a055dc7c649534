// The queue path's real brokers: RabbitMQ (rabbitmq-c) and NATS (nats.c) against private servers
// started by mq::BrokerProcess (Debian's rabbitmq-server and nats-server; scripts/install-deps.sh
// --test installs them). One server per kind per test binary run, started on first use (RabbitMQ
// takes about 8 s); the server-stop cases come last in this file and take their server with them.
// The cases that need a server are in the doctest suite "realmq" (the ctest label realmq) and are
// skipped when its program is not installed; the rest run without one. The round-trip and rate
// figures moved to bench/figures.cpp.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include "mq/backends.h"
#include "mq/reply_book.h"
#include "mq/server_process.h"
#include "realmq_drive.h"
#include "skip_guard.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::mq;
using namespace pathbench::testing::realmq;

namespace {

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

// The cases below need rabbitmq-server and/or nats-server.
TEST_SUITE_BEGIN("realmq");

TEST_CASE("realmq: rabbitmq echo, 1000 requests with 64 in flight, each answered once with its body") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("rabbitmq");
  echo_round("rabbitmq");
}

TEST_CASE("realmq: nats echo, 1000 requests with 64 in flight, each answered once with its body") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("nats");
  echo_round("nats");
}

TEST_CASE("realmq: rabbitmq direct reply-to") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("rabbitmq");
  Endpoint e = endpoint_for("rabbitmq", "pathbench.test.direct");
  e.direct_reply_to = true;
  auto responder = make_responder_for(e, 1, echo_handlers());
  Drive d = drive(e, 200, 16, 10 * kNanosPerSecond);
  REQUIRE(d.start_error == "");
  CHECK(d.count(Outcome::ok) == 200);
}

TEST_CASE("realmq: rabbitmq queue full at max_pending with the responder paused - the rest are rejected") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("rabbitmq");
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
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("nats");
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
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("rabbitmq");
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

// These take the shared servers down: keep them last.
TEST_CASE("realmq: requests end transport_error or unavailable when the server stops mid-run") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("nats");
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("rabbitmq");
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

TEST_SUITE_END();
