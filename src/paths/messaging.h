// Path `messaging`: one-way messages through a broker, the asynchronous half beside the request
// paths. Producers publish on the scenario's schedule (the load generator: a publish is its
// "request", completed when the broker confirms it — the native confirm of the embedded broker,
// RabbitMQ publisher confirms, JetStream's publish ack (durable NATS), the client library's
// acceptance on core NATS, which has no broker ack); the scenario's workers consume as competing consumers (roles/message_consumer.h: the
// message's query, then the ack). The broker is `via`: embedded | rabbitmq | nats, its queue
// "pathbench.messages.<label>", bounded by [broker] max_pending (a full queue rejects), with
// [broker] prefetch and consumers per worker.
//
// Two latencies, both from the intended publish time: publish (until confirmed; summary's
// publish_p50_us/publish_p99_us and <label>.<phase>.publish.hgrm) and end-to-end (until a
// consumer had done the message's work and acked it: the path's main latency). After the last
// phase the run waits up to the path's `drain` for every confirmed message to be consumed; the
// accounting (published, confirmed, consumed, duplicated, lost, expired — paths/messaging_ledger.h),
// the backlog sampled from the broker each second (mq/messaging_probe.h; core NATS: published −
// consumed) and the drain time are folded into the run's result.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;
std::unique_ptr<PathInstance> create_messaging(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
