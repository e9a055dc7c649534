// Microbenchmarks for the broker core in-process (no sockets): the cost of one message through
// a queue — publish, delivery callback, ack — with one consumer, and the pull path (publish +
// try_get). Threads > 1 publish to the same queue at once, showing the per-queue lock's contention.
#include <benchmark/benchmark.h>

#include <string>

#include "broker/broker.h"

namespace {

using namespace pathbench::broker;

Message body_of(const std::string& payload) {
  Message m;
  m.body = payload;
  m.reply_to = "reply";
  m.correlation_id = 1;
  return m;
}

void BM_PublishDeliverAck(benchmark::State& state) {
  static Broker* broker = nullptr;
  static ConsumerPtr consumer;
  if (state.thread_index() == 0) {
    broker = new Broker({.default_max_pending = 1 << 30});
    broker->declare("q");
    // Acks from the callback: delivery and ack happen on the publishing thread.
    broker->consume("q", {.prefetch = 1024},
                    [](const ConsumerPtr& c, Delivery d) { broker->ack(*c, d.delivery_tag); }, consumer);
  }
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) benchmark::DoNotOptimize(broker->publish("q", body_of(payload)));
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    broker->cancel(*consumer);
    consumer.reset();
    delete broker;
  }
}
BENCHMARK(BM_PublishDeliverAck)->Arg(64)->Arg(1024)->Threads(1)->Threads(2)->UseRealTime();

void BM_PublishTryGet(benchmark::State& state) {
  Broker broker({.default_max_pending = 1 << 30});
  broker.declare("q");
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  Delivery d;
  for (auto _ : state) {
    broker.publish("q", body_of(payload));
    benchmark::DoNotOptimize(broker.try_get("q", d));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PublishTryGet)->Arg(64)->Arg(1024);

}  // namespace
