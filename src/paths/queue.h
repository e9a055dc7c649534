// Path `queue`: request/reply through a message broker. Each request is a serialized
// pathbench.v1.QueryRequest (request_id = the load generator's (slot, id), timeout_ns = the
// deadline, sent_ns = the client's clock) published to the request queue with reply-to and a
// correlation id; the workers consume it as competing consumers (roles/queue_worker.h) and
// publish the QueryReply back; the client matches replies by correlation id (a duplicate is
// dropped and counted, never counted twice). `via` is the broker: embedded (pathbench's own,
// native protocol), rabbitmq (AMQP 0-9-1) or nats — the same client and accounting for each
// (mq/mq.h). A refused publish (queue full) is `rejected`. Hops: worker_queue = the time in the
// broker, then the worker's SQL and rest; client_and_network = publish + reply delivery.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;
std::unique_ptr<PathInstance> create_queue(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
