#include "broker/broker_server.h"

#include <fmt/format.h>

#include <stdexcept>

#include "net/prometheus.h"

namespace pathbench::broker {

namespace {

BrokerOptions broker_options(const BrokerServerOptions& o) {
  if (o.max_pending < 1) throw std::runtime_error(fmt::format("broker: max_pending must be at least 1, found {}", o.max_pending));
  if (o.threads < 1 || o.threads > 64) throw std::runtime_error(fmt::format("broker: threads must be 1..64, found {}", o.threads));
  BrokerOptions b;
  b.default_max_pending = o.max_pending;
  return b;
}

NativeServerOptions native_options(const BrokerServerOptions& o) {
  NativeServerOptions n;
  n.listen = o.listen;
  n.threads = o.threads;
  n.max_frame_bytes = o.max_frame_bytes;
  n.max_connections = o.max_connections;
  n.max_buffered_bytes = o.max_buffered_bytes;
  n.tls = o.tls;
  return n;
}

}  // namespace

BrokerServer::BrokerServer(const BrokerServerOptions& options)
    : broker_(std::make_unique<Broker>(broker_options(options))),
      native_(std::make_unique<NativeServer>(*broker_, native_options(options))) {
  if (broker_->declare(kDefaultQueue, QueueOptions{options.max_pending, 0}) != Status::ok)
    throw std::runtime_error("broker: cannot declare the queue \"default\"");
  if (options.http_threads < 1 || options.http_threads > 64)
    throw std::runtime_error(fmt::format("broker: http threads must be 1..64, found {}", options.http_threads));
  if (!options.grpc_listen.empty())
    grpc_ = std::make_unique<GrpcFront>(*broker_, options.grpc_listen, options.max_frame_bytes, options.tls);
  if (!options.http_listen.empty())
    http_ = std::make_unique<HttpFront>(*broker_, options.http_listen, options.max_frame_bytes, options.http_threads,
                                        "pb-broker-http", options.tls);
}

BrokerServer::~BrokerServer() {
  http_.reset();
  grpc_.reset();
  native_.reset();
}

std::string BrokerServer::grpc_address() const { return grpc_ ? grpc_->address() : std::string(); }
std::string BrokerServer::http_address() const { return http_ ? http_->address() : std::string(); }

std::string BrokerServer::address() const { return native_->address(); }
std::string BrokerServer::url() const { return (native_->tls() ? "tcps://" : "tcp://") + native_->address(); }
bool BrokerServer::tls() const noexcept { return native_->tls(); }

BrokerServerStats BrokerServer::stats() const { return {broker_->stats(), native_->stats()}; }

std::string prometheus_exposition(const BrokerServerStats& s) {
  using net::MetricType;
  std::string out;
  net::PrometheusWriter w(out);
  struct Gauge {
    const char* name;
    const char* help;
    std::uint64_t QueueStats::*field;
  };
  static constexpr Gauge kGauges[] = {
      {"pathbench_broker_queue_depth", "Ready messages in each queue (bounded by its max_pending).", &QueueStats::depth},
      {"pathbench_broker_queue_unacked", "Messages delivered and not yet acknowledged.", &QueueStats::unacked},
      {"pathbench_broker_queue_consumers", "Consumers of each queue.", &QueueStats::consumers},
  };
  for (const auto& g : kGauges) {
    w.family(g.name, MetricType::gauge, g.help);
    for (const auto& q : s.broker.queues) w.sample(g.name, {{"queue", q.name}}, q.*g.field);
  }
  w.family("pathbench_broker_queue_messages_total", MetricType::counter,
           "Messages by event: enqueued (accepted), rejected (overflow), delivered, acked, redelivered, discarded.");
  for (const auto& q : s.broker.queues) {
    const std::pair<const char*, std::uint64_t> events[] = {{"enqueued", q.enqueued},   {"rejected", q.rejected},
                                                            {"delivered", q.delivered}, {"acked", q.acked},
                                                            {"redelivered", q.redelivered}, {"discarded", q.discarded}};
    for (const auto& [event, n] : events)
      w.sample("pathbench_broker_queue_messages_total", {{"queue", q.name}, {"event", event}}, n);
  }
  w.family("pathbench_broker_publish_to_delivery_seconds", MetricType::summary, "Time from publish to delivery, per queue.");
  for (const auto& q : s.broker.queues) {
    const auto& h = q.publish_to_delivery_ns;
    const bool empty = h.total_count() == 0;
    const std::pair<double, double> quantiles[] = {
        {0.5, empty ? 0.0 : h.value_at_percentile(50) / 1e9},
        {0.9, empty ? 0.0 : h.value_at_percentile(90) / 1e9},
        {0.99, empty ? 0.0 : h.value_at_percentile(99) / 1e9}};
    w.summary("pathbench_broker_publish_to_delivery_seconds", {{"queue", q.name}}, quantiles,
              h.mean() * static_cast<double>(h.total_count()) / 1e9, static_cast<std::uint64_t>(h.total_count()));
  }
  w.family("pathbench_broker_subject_pending", MetricType::gauge, "Messages waiting in subscribers' lists, per subject.");
  for (const auto& sub : s.broker.subjects) w.sample("pathbench_broker_subject_pending", {{"subject", sub.subject}}, sub.pending);
  w.family("pathbench_broker_subject_messages_total", MetricType::counter, "Subject messages by event: published, rejected, fetched.");
  for (const auto& sub : s.broker.subjects) {
    const std::pair<const char*, std::uint64_t> events[] = {{"published", sub.published}, {"rejected", sub.rejected}, {"fetched", sub.fetched}};
    for (const auto& [event, n] : events)
      w.sample("pathbench_broker_subject_messages_total", {{"subject", sub.subject}, {"event", event}}, n);
  }
  w.family("pathbench_broker_unroutable_total", MetricType::counter,
           "Publishes to a queue or subject that does not exist or has no subscriber.");
  w.sample("pathbench_broker_unroutable_total", {{"reason", "no_queue"}}, s.broker.no_queue);
  w.sample("pathbench_broker_unroutable_total", {{"reason", "no_subscriber"}}, s.broker.no_subscriber);
  w.family("pathbench_broker_connections_open", MetricType::gauge, "Native protocol connections open.");
  w.sample("pathbench_broker_connections_open", {}, s.native.connections_open);
  w.family("pathbench_broker_connections_total", MetricType::counter,
           "Native protocol connections accepted, and closed for bad input.");
  w.sample("pathbench_broker_connections_total", {{"event", "accepted"}}, s.native.connections_accepted);
  w.sample("pathbench_broker_connections_total", {{"event", "closed_malformed"}}, s.native.closed_malformed);
  w.sample("pathbench_broker_connections_total", {{"event", "closed_too_large"}}, s.native.closed_too_large);
  return out;
}

}  // namespace pathbench::broker
