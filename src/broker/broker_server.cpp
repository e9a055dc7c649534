#include "broker/broker_server.h"

#include <fmt/format.h>

#include <stdexcept>

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
  if (!options.grpc_listen.empty()) grpc_ = std::make_unique<GrpcFront>(*broker_, options.grpc_listen, options.max_frame_bytes);
  if (!options.http_listen.empty())
    http_ = std::make_unique<HttpFront>(*broker_, options.http_listen, options.max_frame_bytes, options.http_threads, "pb-broker-http");
}

BrokerServer::~BrokerServer() {
  http_.reset();
  grpc_.reset();
  native_.reset();
}

std::string BrokerServer::grpc_address() const { return grpc_ ? grpc_->address() : std::string(); }
std::string BrokerServer::http_address() const { return http_ ? http_->address() : std::string(); }

std::string BrokerServer::address() const { return native_->address(); }
std::string BrokerServer::url() const { return "tcp://" + native_->address(); }

BrokerServerStats BrokerServer::stats() const { return {broker_->stats(), native_->stats()}; }

namespace {

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string prometheus_exposition(const BrokerServerStats& s) {
  std::string out;
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
    family(out, g.name, "gauge", g.help);
    for (const auto& q : s.broker.queues) out += fmt::format("{}{{queue=\"{}\"}} {}\n", g.name, escape_label(q.name), q.*g.field);
  }
  family(out, "pathbench_broker_queue_messages_total", "counter",
         "Messages by event: enqueued (accepted), rejected (overflow), delivered, acked, redelivered, discarded.");
  for (const auto& q : s.broker.queues) {
    const std::pair<const char*, std::uint64_t> events[] = {{"enqueued", q.enqueued},   {"rejected", q.rejected},
                                                            {"delivered", q.delivered}, {"acked", q.acked},
                                                            {"redelivered", q.redelivered}, {"discarded", q.discarded}};
    for (const auto& [event, n] : events)
      out += fmt::format("pathbench_broker_queue_messages_total{{queue=\"{}\",event=\"{}\"}} {}\n", escape_label(q.name), event, n);
  }
  family(out, "pathbench_broker_publish_to_delivery_seconds", "summary", "Time from publish to delivery, per queue.");
  for (const auto& q : s.broker.queues) {
    const auto& h = q.publish_to_delivery_ns;
    const std::string name = escape_label(q.name);
    for (double quantile : {0.5, 0.9, 0.99})
      out += fmt::format("pathbench_broker_publish_to_delivery_seconds{{queue=\"{}\",quantile=\"{}\"}} {:.9f}\n", name, quantile,
                         h.total_count() == 0 ? 0.0 : h.value_at_percentile(quantile * 100) / 1e9);
    out += fmt::format("pathbench_broker_publish_to_delivery_seconds_sum{{queue=\"{}\"}} {:.9f}\n", name,
                       h.mean() * static_cast<double>(h.total_count()) / 1e9);
    out += fmt::format("pathbench_broker_publish_to_delivery_seconds_count{{queue=\"{}\"}} {}\n", name, h.total_count());
  }
  family(out, "pathbench_broker_subject_pending", "gauge", "Messages waiting in subscribers' lists, per subject.");
  for (const auto& sub : s.broker.subjects)
    out += fmt::format("pathbench_broker_subject_pending{{subject=\"{}\"}} {}\n", escape_label(sub.subject), sub.pending);
  family(out, "pathbench_broker_subject_messages_total", "counter", "Subject messages by event: published, rejected, fetched.");
  for (const auto& sub : s.broker.subjects) {
    const std::pair<const char*, std::uint64_t> events[] = {{"published", sub.published}, {"rejected", sub.rejected}, {"fetched", sub.fetched}};
    for (const auto& [event, n] : events)
      out += fmt::format("pathbench_broker_subject_messages_total{{subject=\"{}\",event=\"{}\"}} {}\n", escape_label(sub.subject), event, n);
  }
  family(out, "pathbench_broker_unroutable_total", "counter", "Publishes to a queue or subject that does not exist or has no subscriber.");
  out += fmt::format("pathbench_broker_unroutable_total{{reason=\"no_queue\"}} {}\n", s.broker.no_queue);
  out += fmt::format("pathbench_broker_unroutable_total{{reason=\"no_subscriber\"}} {}\n", s.broker.no_subscriber);
  family(out, "pathbench_broker_connections_open", "gauge", "Native protocol connections open.");
  out += fmt::format("pathbench_broker_connections_open {}\n", s.native.connections_open);
  family(out, "pathbench_broker_connections_total", "counter", "Native protocol connections accepted, and closed for bad input.");
  out += fmt::format("pathbench_broker_connections_total{{event=\"accepted\"}} {}\n", s.native.connections_accepted);
  out += fmt::format("pathbench_broker_connections_total{{event=\"closed_malformed\"}} {}\n", s.native.closed_malformed);
  out += fmt::format("pathbench_broker_connections_total{{event=\"closed_too_large\"}} {}\n", s.native.closed_too_large);
  return out;
}

}  // namespace pathbench::broker
