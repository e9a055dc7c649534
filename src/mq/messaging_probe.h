// One-way messaging's backlog as the broker itself reports it (paths/messaging.h samples it once
// a second): the messages ready in the queue, not yet delivered to a consumer.
//   embedded — the in-process broker's queue counters (Broker::queue_stats: depth)
//   rabbitmq — a passive queue.declare on its own connection (message_count: ready messages)
//   nats     — durable (JetStream): the durable consumer's pending count (stream info); core NATS
//              keeps no queue: not available here (the path counts published − consumed)
#pragma once
#include <cstdint>
#include <memory>

#include "broker/broker.h"
#include "mq/mq.h"

namespace pathbench::mq {

class BacklogProbe {
 public:
  virtual ~BacklogProbe() = default;
  // Ready messages in endpoint.request_queue, or -1 when the broker cannot tell or could not be
  // asked (bounded by endpoint.timeout_ns). Called from one thread at a time.
  virtual std::int64_t depth() = 0;
};

// `embedded_broker`: the run's in-process broker when endpoint.kind is embedded (else null).
// Never null; a kind with no depth to ask for gets a probe that answers -1.
std::unique_ptr<BacklogProbe> make_backlog_probe(const Endpoint& endpoint, broker::Broker* embedded_broker);
// The JetStream one (mq/jetstream.cpp), which make_backlog_probe hands over to.
std::unique_ptr<BacklogProbe> make_jetstream_probe(const Endpoint& endpoint);

}  // namespace pathbench::mq
