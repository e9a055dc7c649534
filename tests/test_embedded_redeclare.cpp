// The queue path over the embedded broker when the request queue already exists with another
// max_pending (a `serve worker --max-pending N` started first, or an earlier run): the requester
// and the responder use the queue as it is instead of failing the run; the broker itself keeps
// refusing such a declare (test_broker.cpp), and the bound in force stays the first one.
#include <doctest/doctest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "broker/broker.h"
#include "broker/broker_server.h"
#include "core/clock.h"
#include "mq/backends.h"

using namespace pathbench;
namespace asio = boost::asio;

namespace {

mq::Endpoint redeclare_endpoint(const broker::BrokerServer& server, int max_pending) {
  mq::Endpoint e;
  e.kind = "embedded";
  e.url = server.url();
  e.request_queue = "pathbench.redeclare";
  e.max_pending = max_pending;
  e.prefetch = 4;
  e.timeout_ns = 3 * kNanosPerSecond;
  return e;
}

template <class Done>
void run_until(asio::io_context& io, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

TEST_SUITE_BEGIN("loopback");

TEST_CASE("embedded mq: a request queue declared before with another max_pending is used as it is") {
  broker::BrokerServer server(broker::BrokerServerOptions{});
  // The worker side first, with a small bound; then a requester asking for a larger one.
  const auto worker_side = redeclare_endpoint(server, 8);
  auto responder = mq::make_embedded_responder(worker_side, 2, [](int) {
    return [](std::string_view body) { return std::string(body); };
  }, "worker-0");

  for (const bool one_way : {false, true}) {
    CAPTURE(one_way);
    auto run_side = redeclare_endpoint(server, 1000);
    run_side.one_way = one_way;
    asio::io_context io;
    std::map<std::uint64_t, std::pair<Outcome, std::string>> replies;
    auto requester = mq::make_embedded_requester(run_side, io, [&](std::uint64_t id, Outcome o, std::string_view body) {
      replies[id] = {o, std::string(body)};
    }, 0);
    std::optional<std::string> started;
    requester->start([&](std::string error) { started = std::move(error); });
    run_until(io, [&] { return started.has_value(); });
    REQUIRE(started.has_value());
    CHECK(*started == "");
    // In batches of 4, within the first declare's bound of 8.
    for (std::uint64_t id = 1; id <= 20; id += 4) {
      for (std::uint64_t k = id; k < id + 4; ++k) requester->request(k, "hello");
      run_until(io, [&] { return replies.size() >= id + 3; });
    }
    REQUIRE(replies.size() == 20);
    for (const auto& [id, reply] : replies) {
      CHECK(reply.first == Outcome::ok);
      if (!one_way) CHECK(reply.second == "hello");
    }
    requester->stop();
  }

  // The bound in force is still the first declare's.
  REQUIRE(server.broker().set_paused("pathbench.redeclare", true) == broker::Status::ok);
  responder->pause(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto run_side = redeclare_endpoint(server, 1000);
  asio::io_context io;
  std::map<std::uint64_t, Outcome> outcomes;
  auto requester = mq::make_embedded_requester(run_side, io, [&](std::uint64_t id, Outcome o, std::string_view) {
    outcomes[id] = o;
  }, 1);
  std::optional<std::string> started;
  requester->start([&](std::string error) { started = std::move(error); });
  run_until(io, [&] { return started.has_value(); });
  REQUIRE(started.value_or("not started") == "");
  for (std::uint64_t id = 1; id <= 30; ++id) requester->request(id, "x");
  run_until(io, [&] {
    std::size_t rejected = 0;
    for (const auto& [id, o] : outcomes) rejected += o == Outcome::rejected;
    return rejected >= 22;
  });
  std::size_t rejected = 0;
  for (const auto& [id, o] : outcomes) rejected += o == Outcome::rejected;
  CHECK(rejected == 22);  // 30 published, 8 held by the first declare's bound
  broker::QueueStats s;
  REQUIRE(server.broker().queue_stats("pathbench.redeclare", s) == broker::Status::ok);
  CHECK(s.depth == 8);
  requester->stop();
  responder->stop();
}

TEST_CASE("embedded mq: a worker started after the run's requester accepts the queue's other bound") {
  broker::BrokerServer server(broker::BrokerServerOptions{});
  asio::io_context io;
  std::map<std::uint64_t, std::pair<Outcome, std::string>> replies;
  auto requester = mq::make_embedded_requester(redeclare_endpoint(server, 1000), io,
                                               [&](std::uint64_t id, Outcome o, std::string_view body) {
                                                 replies[id] = {o, std::string(body)};
                                               }, 0);
  std::optional<std::string> started;
  requester->start([&](std::string error) { started = std::move(error); });
  run_until(io, [&] { return started.has_value(); });
  REQUIRE(started.value_or("not started") == "");
  // The worker declares max_pending 8: the broker answers precondition_failed; the worker consumes anyway.
  auto responder = mq::make_embedded_responder(redeclare_endpoint(server, 8), 1, [](int) {
    return [](std::string_view body) { return std::string(body) + "!"; };
  }, "worker-1");
  for (std::uint64_t id = 1; id <= 10; ++id) requester->request(id, "hi");
  run_until(io, [&] { return replies.size() >= 10; });
  REQUIRE(replies.size() == 10);
  for (const auto& [id, reply] : replies) {
    CHECK(reply.first == Outcome::ok);
    CHECK(reply.second == "hi!");
  }
  CHECK(responder->stats().replied == 10);
  requester->stop();
  responder->stop();
}

TEST_SUITE_END();
