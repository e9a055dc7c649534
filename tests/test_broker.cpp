// The broker core in-process: MaxPending overflow with paused consumers, redelivery, request/
// reply, subjects, counters, and many threads publishing and consuming at once.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/broker.h"
#include "broker/broker_server.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::broker;

namespace {

// Collects deliveries from any thread; the test thread waits for them.
struct Inbox {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<Delivery> items;

  DeliveryCallback callback() {
    return [this](const ConsumerPtr&, Delivery d) {
      std::lock_guard lock(mutex);
      items.push_back(std::move(d));
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, timeout, [&] { return items.size() >= n; });
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return items.size();
  }
  std::deque<Delivery> take() {
    std::lock_guard lock(mutex);
    return std::exchange(items, {});
  }
};

Message text(std::string body, std::uint64_t correlation_id = 0, std::string reply_to = "") {
  Message m;
  m.body = std::move(body);
  m.correlation_id = correlation_id;
  m.reply_to = std::move(reply_to);
  return m;
}

}  // namespace

TEST_CASE("broker: MaxPending 1000 with consumers paused takes exactly 1000 of 5000, all delivered once after resume") {
  Broker broker;
  REQUIRE(broker.declare("jobs", {.max_pending = 1000}) == Status::ok);
  REQUIRE(broker.set_paused("jobs", true) == Status::ok);

  std::mutex mutex;
  std::vector<std::string> received;
  ConsumerPtr consumer;
  // Acks from inside the callback: allowed, and it keeps the credit flowing.
  REQUIRE(broker.consume("jobs", {.prefetch = 50},
                         [&](const ConsumerPtr& c, Delivery d) {
                           {
                             std::lock_guard lock(mutex);
                             received.push_back(d.message->body);
                           }
                           CHECK(broker.ack(*c, d.delivery_tag) == Status::ok);
                         },
                         consumer) == Status::ok);

  int accepted = 0, overflow = 0, other = 0;
  for (int i = 0; i < 5000; ++i) {
    switch (broker.publish("jobs", text(std::to_string(i)))) {
      case Status::ok: ++accepted; break;
      case Status::overflow: ++overflow; break;
      default: ++other; break;
    }
  }
  CHECK(accepted == 1000);
  CHECK(overflow == 4000);
  CHECK(other == 0);
  {
    std::lock_guard lock(mutex);
    CHECK(received.empty());  // paused: nothing delivered
  }
  QueueStats s;
  REQUIRE(broker.queue_stats("jobs", s) == Status::ok);
  CHECK(s.depth == 1000);
  CHECK(s.rejected == 4000);
  CHECK(s.enqueued == 1000);
  CHECK(s.paused);

  REQUIRE(broker.set_paused("jobs", false) == Status::ok);
  std::lock_guard lock(mutex);
  REQUIRE(received.size() == 1000);
  std::set<std::string> unique(received.begin(), received.end());
  CHECK(unique.size() == 1000);
  // Never drop-head: the first 1000 published are the ones kept. (Order is not checked: acks
  // from inside the callback deliver the next message before the rest of the batch.)
  std::set<int> numbers;
  for (const auto& r : received) numbers.insert(std::stoi(r));
  CHECK(*numbers.begin() == 0);
  CHECK(*numbers.rbegin() == 999);
  REQUIRE(broker.queue_stats("jobs", s) == Status::ok);
  CHECK(s.depth == 0);
  CHECK(s.delivered == 1000);
  CHECK(s.acked == 1000);
  CHECK(s.redelivered == 0);
  CHECK(s.publish_to_delivery_ns.total_count() == 1000);
}

TEST_CASE("broker: a cancelled consumer's unacked messages are redelivered, flagged, to the next consumer") {
  Broker broker;
  REQUIRE(broker.declare("q") == Status::ok);
  Inbox first, second;
  ConsumerPtr a, b;
  REQUIRE(broker.consume("q", {.prefetch = 10}, first.callback(), a) == Status::ok);
  for (int i = 0; i < 5; ++i) REQUIRE(broker.publish("q", text(fmt::format("m{}", i))) == Status::ok);
  REQUIRE(first.wait_for(5));
  auto got = first.take();
  for (const auto& d : got) CHECK_FALSE(d.redelivered);
  CHECK(broker.ack(*a, got[0].delivery_tag) == Status::ok);
  CHECK(broker.ack(*a, got[1].delivery_tag) == Status::ok);
  CHECK(broker.ack(*a, got[1].delivery_tag) == Status::unknown_delivery_tag);  // twice

  CHECK(broker.cancel(*a) == Status::ok);
  CHECK(broker.cancel(*a) == Status::unknown_consumer);
  CHECK(broker.ack(*a, got[2].delivery_tag) == Status::unknown_consumer);  // too late: requeued

  REQUIRE(broker.consume("q", {.prefetch = 10}, second.callback(), b) == Status::ok);
  REQUIRE(second.wait_for(3));
  auto again = second.take();
  REQUIRE(again.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(again[i].redelivered);
    CHECK(again[i].message->message_id == got[i + 2].message->message_id);  // same messages, same order
    CHECK(broker.ack(*b, again[i].delivery_tag) == Status::ok);
  }
  QueueStats s;
  REQUIRE(broker.queue_stats("q", s) == Status::ok);
  CHECK(s.redelivered == 3);
  CHECK(s.acked == 5);
  CHECK(s.delivered == 8);
  CHECK(s.delivered == s.acked + s.redelivered + s.discarded + s.unacked);
  CHECK(s.enqueued == s.acked + s.discarded + s.depth + s.unacked);
}

TEST_CASE("broker: nack requeues flagged or discards, closing a session redelivers and drops its exclusive queue") {
  Broker broker;
  REQUIRE(broker.declare("q") == Status::ok);
  const SessionId session = broker.open_session();
  REQUIRE(broker.declare("reply", {.exclusive_owner = session}) == Status::ok);
  CHECK(broker.declare("reply") == Status::precondition_failed);  // exists, other owner
  Inbox inbox;
  ConsumerPtr c;
  REQUIRE(broker.consume("q", {.prefetch = 1, .session = session}, inbox.callback(), c) == Status::ok);
  REQUIRE(broker.publish("q", text("x")) == Status::ok);
  REQUIRE(broker.publish("q", text("y")) == Status::ok);
  REQUIRE(inbox.wait_for(1));
  CHECK(inbox.size() == 1);  // prefetch 1: the second waits for credit
  auto d = inbox.take().front();
  CHECK(d.message->body == "x");
  CHECK(broker.nack(*c, d.delivery_tag, true) == Status::ok);
  REQUIRE(inbox.wait_for(1));
  d = inbox.take().front();
  CHECK(d.message->body == "x");
  CHECK(d.redelivered);
  CHECK(broker.nack(*c, d.delivery_tag, false) == Status::ok);  // discarded
  REQUIRE(inbox.wait_for(1));
  d = inbox.take().front();
  CHECK(d.message->body == "y");

  broker.close_session(session);  // "y" unacked -> back in the queue; "reply" deleted
  CHECK(broker.publish("reply", text("late")) == Status::no_queue);
  Delivery got;
  REQUIRE(broker.try_get("q", got) == Status::ok);
  CHECK(got.message->body == "y");
  CHECK(got.redelivered);
  CHECK(broker.try_get("q", got) == Status::empty);
  QueueStats s;
  REQUIRE(broker.queue_stats("q", s) == Status::ok);
  CHECK(s.discarded == 1);
  CHECK(s.redelivered == 2);
  CHECK(s.enqueued == s.acked + s.discarded + s.depth + s.unacked);
  CHECK(s.delivered == s.acked + s.redelivered + s.discarded + s.unacked);
}

TEST_CASE("broker: request/reply by reply_to and correlation id, every request answered exactly once") {
  Broker broker;
  REQUIRE(broker.declare("requests") == Status::ok);
  // The worker: competing consumer that replies to reply_to, then acks.
  ConsumerPtr worker;
  REQUIRE(broker.consume("requests", {.prefetch = 8},
                         [&](const ConsumerPtr& c, Delivery d) {
                           std::string reply = "re:";
                           reply += d.message->body;
                           CHECK(broker.publish(d.message->reply_to, text(std::move(reply), d.message->correlation_id)) == Status::ok);
                           CHECK(broker.ack(*c, d.delivery_tag) == Status::ok);
                         },
                         worker) == Status::ok);
  const SessionId client = broker.open_session();
  REQUIRE(broker.declare("client.replies", {.exclusive_owner = client}) == Status::ok);
  Inbox replies;
  ConsumerPtr reply_consumer;
  REQUIRE(broker.consume("client.replies", {.auto_ack = true, .session = client}, replies.callback(), reply_consumer) == Status::ok);
  constexpr int kRequests = 1000;
  for (int i = 0; i < kRequests; ++i)
    REQUIRE(broker.publish("requests", text(std::to_string(i), 1000 + i, "client.replies")) == Status::ok);
  REQUIRE(replies.wait_for(kRequests));
  std::set<std::uint64_t> seen;
  for (const auto& d : replies.take()) {
    CHECK(seen.insert(d.message->correlation_id).second);  // no duplicate
    CHECK(d.message->body == fmt::format("re:{}", d.message->correlation_id - 1000));
  }
  CHECK(seen.size() == kRequests);
  broker.close_session(client);
  CHECK(broker.stats().queues.size() == 1);  // only "requests" is left
}

TEST_CASE("broker: subjects: subscriber not found, fan-out, fetch drains, overflow is all or nothing") {
  Broker broker({.default_max_pending = 3});
  CHECK(broker.publish_subject("news", text("nobody")) == Status::no_subscriber);
  std::uint64_t a = 0, b = 0;
  REQUIRE(broker.subscribe("news", a) == Status::ok);
  REQUIRE(broker.subscribe("news", b) == Status::ok);
  CHECK(a != b);
  for (int i = 0; i < 3; ++i) REQUIRE(broker.publish_subject("news", text(std::to_string(i))) == Status::ok);
  CHECK(broker.publish_subject("news", text("too many")) == Status::overflow);

  std::vector<MessagePtr> got;
  REQUIRE(broker.fetch("news", a, got) == Status::ok);
  REQUIRE(got.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(got[i]->body == std::to_string(i));
  got.clear();
  REQUIRE(broker.fetch("news", a, got) == Status::ok);
  CHECK(got.empty());  // drained
  // b's list is still full: the overflowing publish reached nobody.
  CHECK(broker.publish_subject("news", text("still full for b")) == Status::overflow);
  REQUIRE(broker.fetch("news", b, got, 2) == Status::ok);
  CHECK(got.size() == 2);
  CHECK(broker.fetch("news", 12345, got) == Status::no_subscriber);
  CHECK(broker.fetch("other", a, got) == Status::no_subscriber);
  CHECK(broker.unsubscribe("news", a) == Status::ok);
  CHECK(broker.unsubscribe("news", b) == Status::ok);
  CHECK(broker.publish_subject("news", text("gone")) == Status::no_subscriber);
  auto stats = broker.stats();
  REQUIRE(stats.subjects.size() == 1);
  CHECK(stats.subjects[0].published == 3);
  CHECK(stats.subjects[0].rejected == 2);
  CHECK(stats.subjects[0].fetched == 5);
  CHECK(stats.no_subscriber == 2);
}

TEST_CASE("broker: get waits for a message, try_get does not, pause holds gets too") {
  Broker broker;
  Delivery d;
  CHECK(broker.try_get("missing", d) == Status::no_queue);
  CHECK(broker.publish("missing", text("x")) == Status::no_queue);
  REQUIRE(broker.declare("q", {.max_pending = 2}) == Status::ok);
  CHECK(broker.try_get("q", d) == Status::empty);
  CHECK(broker.get("q", 20 * kNanosPerMilli, d) == Status::empty);
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK(broker.publish("q", text("hello")) == Status::ok);
  });
  CHECK(broker.get("q", 5 * kNanosPerSecond, d) == Status::ok);
  later.join();
  CHECK(d.message->body == "hello");
  REQUIRE(broker.set_paused("q", true) == Status::ok);
  REQUIRE(broker.publish("q", text("held")) == Status::ok);
  CHECK(broker.try_get("q", d) == Status::empty);
  REQUIRE(broker.set_paused("q", false) == Status::ok);
  CHECK(broker.try_get("q", d) == Status::ok);
  CHECK(broker.declare("q", {.max_pending = 3}) == Status::precondition_failed);
  CHECK(broker.declare("q", {.max_pending = 2}) == Status::ok);
  ConsumerPtr c;
  CHECK(broker.consume("q", {.prefetch = 0}, [](const ConsumerPtr&, Delivery) {}, c) == Status::precondition_failed);
  CHECK(broker.stats().no_queue == 1);
}

TEST_CASE("broker: concurrent publishers, consumers and getters: every message delivered and acked exactly once") {
  Broker broker;
  REQUIRE(broker.declare("work", {.max_pending = 1'000'000}) == Status::ok);
  constexpr int kPublishers = 4, kPerPublisher = 5000, kConsumers = 3;
  constexpr int kTotal = kPublishers * kPerPublisher;
  std::vector<std::atomic<int>> deliveries(kTotal), acks(kTotal);
  std::atomic<int> acked_total{0};

  // Consumers ack on their own threads, as a real front would (callbacks only hand over).
  std::vector<std::unique_ptr<Inbox>> inboxes;
  std::vector<ConsumerPtr> consumers(kConsumers);
  for (int i = 0; i < kConsumers; ++i) {
    inboxes.push_back(std::make_unique<Inbox>());
    REQUIRE(broker.consume("work", {.prefetch = 32}, inboxes.back()->callback(), consumers[i]) == Status::ok);
  }
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kConsumers; ++i) {
    threads.emplace_back([&, i] {
      while (acked_total.load() < kTotal && !done.load()) {
        inboxes[i]->wait_for(1, std::chrono::milliseconds(20));
        for (auto& d : inboxes[i]->take()) {
          const int id = std::stoi(d.message->body);
          deliveries[id].fetch_add(1);
          if (broker.ack(*consumers[i], d.delivery_tag) == Status::ok) {
            acks[id].fetch_add(1);
            acked_total.fetch_add(1);
          }
        }
      }
    });
  }
  threads.emplace_back([&] {  // a getter competing with the consumers
    Delivery d;
    while (acked_total.load() < kTotal && !done.load()) {
      if (broker.get("work", 5 * kNanosPerMilli, d) == Status::ok) {
        const int id = std::stoi(d.message->body);
        deliveries[id].fetch_add(1);
        acks[id].fetch_add(1);
        acked_total.fetch_add(1);
      }
    }
  });
  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&, p] {
      for (int i = 0; i < kPerPublisher; ++i) CHECK(broker.publish("work", text(std::to_string(p * kPerPublisher + i))) == Status::ok);
    });
  }
  for (auto& t : publishers) t.join();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (acked_total.load() < kTotal && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  done = true;
  for (auto& t : threads) t.join();

  CHECK(acked_total.load() == kTotal);
  int lost = 0, duplicated = 0;
  for (int i = 0; i < kTotal; ++i) {
    if (acks[i].load() == 0) ++lost;
    if (deliveries[i].load() > 1 || acks[i].load() > 1) ++duplicated;
  }
  CHECK(lost == 0);
  CHECK(duplicated == 0);
  QueueStats s;
  REQUIRE(broker.queue_stats("work", s) == Status::ok);
  CHECK(s.enqueued == kTotal);
  CHECK(s.delivered == kTotal);
  CHECK(s.acked == kTotal);
  CHECK(s.depth == 0);
  CHECK(s.unacked == 0);
  CHECK(s.redelivered == 0);
  CHECK(s.rejected == 0);
  CHECK(s.publish_to_delivery_ns.total_count() == kTotal);
}

TEST_CASE("broker: Prometheus exposition of the broker role's stats") {
  BrokerServer server({.max_pending = 2});
  Broker& broker = server.broker();
  REQUIRE(broker.declare("jobs \"x\"") == Status::ok);
  for (int i = 0; i < 3; ++i) broker.publish("jobs \"x\"", text("m"));
  Delivery d;
  REQUIRE(broker.try_get("jobs \"x\"", d) == Status::ok);
  std::uint64_t id = 0;
  REQUIRE(broker.subscribe("news", id) == Status::ok);
  broker.publish_subject("news", text("n"));
  const std::string text = prometheus_exposition(server.stats());
  CHECK(text.find("pathbench_broker_queue_depth{queue=\"jobs \\\"x\\\"\"} 1\n") != std::string::npos);
  CHECK(text.find("pathbench_broker_queue_messages_total{queue=\"jobs \\\"x\\\"\",event=\"rejected\"} 1\n") != std::string::npos);
  CHECK(text.find("pathbench_broker_queue_messages_total{queue=\"jobs \\\"x\\\"\",event=\"acked\"} 1\n") != std::string::npos);
  CHECK(text.find("pathbench_broker_publish_to_delivery_seconds_count{queue=\"jobs \\\"x\\\"\"} 1\n") != std::string::npos);
  CHECK(text.find("pathbench_broker_subject_pending{subject=\"news\"} 1\n") != std::string::npos);
  CHECK(text.find("# TYPE pathbench_broker_connections_total counter\n") != std::string::npos);
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
    pathbench::testing::TempDir dir;
    pathbench::testing::write_file(dir / "metrics.txt", text);
    CHECK(std::system(("promtool check metrics < " + (dir / "metrics.txt").string() + " >/dev/null 2>&1").c_str()) == 0);
  } else {
    MESSAGE("promtool not installed: exposition format not checked by it");
  }
}
