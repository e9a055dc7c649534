#include "mq/messaging_probe.h"

#include <amqp.h>

#include "mq/amqp_connection.h"

namespace pathbench::mq {

namespace {

class EmbeddedProbe final : public BacklogProbe {
 public:
  EmbeddedProbe(broker::Broker& broker, std::string queue) : broker_(broker), queue_(std::move(queue)) {}
  std::int64_t depth() override {
    broker::QueueStats stats;
    if (broker_.queue_stats(queue_, stats) != broker::Status::ok) return -1;
    return static_cast<std::int64_t>(stats.depth);
  }

 private:
  broker::Broker& broker_;
  std::string queue_;
};

// Its own connection (rabbitmq-c connections stay on one thread: the sampler's), opened on first
// use and again after a failure.
class RabbitProbe final : public BacklogProbe {
 public:
  explicit RabbitProbe(const Endpoint& endpoint) : endpoint_(endpoint) {}
  std::int64_t depth() override {
    using namespace amqp_detail;
    try {
      if (!connection_) connection_ = std::make_unique<AmqpConnection>(endpoint_);
      auto* ok = amqp_queue_declare(connection_->state(), kChannel, amqp_cstring_bytes(endpoint_.request_queue.c_str()),
                                    /*passive=*/1, 0, 0, 0, amqp_empty_table);
      connection_->check_rpc("passive queue.declare");
      return ok ? static_cast<std::int64_t>(ok->message_count) : -1;
    } catch (const std::exception&) {
      if (connection_) connection_->mark_broken();
      connection_.reset();
      return -1;
    }
  }

 private:
  Endpoint endpoint_;
  std::unique_ptr<amqp_detail::AmqpConnection> connection_;
};

class NoProbe final : public BacklogProbe {
 public:
  std::int64_t depth() override { return -1; }
};

}  // namespace

std::unique_ptr<BacklogProbe> make_backlog_probe(const Endpoint& endpoint, broker::Broker* embedded_broker) {
  if (endpoint.kind == "embedded" && embedded_broker)
    return std::make_unique<EmbeddedProbe>(*embedded_broker, endpoint.request_queue);
  if (endpoint.kind == "rabbitmq") return std::make_unique<RabbitProbe>(endpoint);
  if (endpoint.kind == "nats" && endpoint.durable) return make_jetstream_probe(endpoint);
  return std::make_unique<NoProbe>();
}

}  // namespace pathbench::mq
