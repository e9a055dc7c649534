#include "report/metrics.h"

#include <fmt/format.h>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

#include "net/prometheus.h"
#include "net/websocket.h"
#include "roles/task_engine.h"

namespace pathbench {

namespace {

// Latency bucket bounds in seconds: 10 µs .. 10 s, roughly 1-2.5-5 per decade.
constexpr std::array<double, 19> kLatencyBoundsSeconds{
    10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3,
    25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0,   2.5,    5.0,    10.0};

}  // namespace

void MetricsRegistry::add_second(const std::string& path, const IntervalBucket& bucket) {
  // Bucket counts computed outside the lock: a second's histogram walk, once per second.
  std::vector<std::uint64_t> counts(kLatencyBoundsSeconds.size() + 1, 0);
  double sum = 0;
  std::uint64_t n = 0;
  bucket.latency.for_each_recorded([&](std::int64_t value_ns, std::int64_t count) {
    double seconds = static_cast<double>(value_ns) / 1e9;
    std::size_t i = 0;
    while (i < kLatencyBoundsSeconds.size() && seconds > kLatencyBoundsSeconds[i]) ++i;
    counts[i] += static_cast<std::uint64_t>(count);
    sum += seconds * static_cast<double>(count);
    n += static_cast<std::uint64_t>(count);
  });
  std::lock_guard lock(mutex_);
  PathSeries& s = paths_[path];
  if (s.bucket_counts.empty()) s.bucket_counts.assign(counts.size(), 0);
  for (std::size_t i = 0; i < kOutcomeCount; ++i) s.outcomes[i] += static_cast<std::uint64_t>(bucket.outcomes[i]);
  for (std::size_t i = 0; i < counts.size(); ++i) s.bucket_counts[i] += counts[i];
  s.sum_seconds += sum;
  s.count += n;
}

void MetricsRegistry::set_roles_source(std::function<std::string()> source) {
  std::lock_guard lock(mutex_);
  roles_source_ = std::move(source);
}

std::string MetricsRegistry::exposition() const {
  std::string out;
  net::PrometheusWriter w(out);
  std::function<std::string()> roles;
  {
    std::lock_guard lock(mutex_);
    roles = roles_source_;
    if (!paths_.empty()) {
      w.family("pathbench_requests_total", net::MetricType::counter,
               "Requests completed by the load generator, by path and outcome.");
      for (auto& [path, s] : paths_)
        for (auto o : kAllOutcomes)
          w.sample("pathbench_requests_total", {{"path", path}, {"outcome", to_string(o)}},
                   s.outcomes[static_cast<std::size_t>(o)]);
      w.family("pathbench_request_latency_seconds", net::MetricType::histogram,
               "Latency of ok requests, from the intended send time.");
      for (auto& [path, s] : paths_)
        w.histogram("pathbench_request_latency_seconds", {{"path", path}}, kLatencyBoundsSeconds, s.bucket_counts,
                    s.sum_seconds, s.count);
    }
  }
  if (roles) out += roles();
  return out;
}

std::string balancer_exposition(const BalancerStats& s) {
  std::string out;
  net::PrometheusWriter w(out);
  w.family("pathbench_balancer_requests_total", net::MetricType::counter,
           "Requests the balancer received, forwarded, rejected (over max_pending) or answered UNAVAILABLE.");
  const std::pair<const char*, std::uint64_t> results[] = {
      {"received", s.received}, {"forwarded", s.forwarded}, {"rejected", s.rejected}, {"unavailable", s.unavailable}};
  for (auto& [result, n] : results) w.sample("pathbench_balancer_requests_total", {{"result", result}}, n);
  struct Family {
    const char* name;
    net::MetricType type;
    const char* help;
    std::uint64_t (*value)(const BackendSnapshot&);
  };
  static constexpr Family kFamilies[] = {
      {"pathbench_balancer_worker_in_flight", net::MetricType::gauge, "Requests outstanding on each worker.",
       [](const BackendSnapshot& b) { return static_cast<std::uint64_t>(b.in_flight); }},
      {"pathbench_balancer_worker_routed_total", net::MetricType::counter, "Requests routed to each worker.",
       [](const BackendSnapshot& b) { return b.routed; }},
      {"pathbench_balancer_worker_failures_total", net::MetricType::counter, "Failed requests per worker.",
       [](const BackendSnapshot& b) { return b.failures; }},
      {"pathbench_balancer_worker_ejections_total", net::MetricType::counter, "Times each worker was ejected.",
       [](const BackendSnapshot& b) { return b.ejections; }},
      {"pathbench_balancer_worker_ejected", net::MetricType::gauge, "1 while the worker is ejected.",
       [](const BackendSnapshot& b) { return static_cast<std::uint64_t>(b.ejected ? 1 : 0); }},
  };
  for (auto& f : kFamilies) {
    w.family(f.name, f.type, f.help);
    for (auto& b : s.backends) w.sample(f.name, {{"worker", b.address}}, f.value(b));
  }
  return out;
}

std::string workers_exposition(const std::vector<std::pair<std::string, WorkerStats>>& workers) {
  std::string out;
  net::PrometheusWriter w(out);
  w.family("pathbench_worker_queries_total", net::MetricType::counter, "Queries each worker answered, by result.");
  for (auto& [id, s] : workers) {
    const std::pair<const char*, std::uint64_t> results[] = {{"received", s.received},
                                                             {"ok", s.ok},
                                                             {"invalid_argument", s.invalid},
                                                             {"deadline_exceeded", s.deadline_exceeded},
                                                             {"rejected", s.rejected},
                                                             {"failed", s.failed}};
    for (auto& [result, n] : results) w.sample("pathbench_worker_queries_total", {{"worker", id}, {"result", result}}, n);
  }
  return out;
}

std::string echo_exposition(const EchoServer& echo) {
  std::string out;
  net::PrometheusWriter w(out);
  w.family("pathbench_echo_connections_accepted_total", net::MetricType::counter,
           "Connections the echo server accepted since it started.");
  w.sample("pathbench_echo_connections_accepted_total", {}, echo.connections_accepted());
  return out;
}

// ---- HTTP: GET /metrics on a WsServer that takes no WebSocket ----------------------------------

namespace {

namespace http = boost::beast::http;

class MetricsHandler final : public net::WsHandler {
 public:
  explicit MetricsHandler(std::function<std::string()> text) : text_(std::move(text)) {}

  bool accepts(std::string_view) const override { return false; }
  void on_message(const std::shared_ptr<net::WsChannel>&, std::string_view, bool) override {}

  // On the server's one thread.
  net::HttpResponse on_http(const net::HttpRequest& request) override {
    const std::string_view target(request.target().data(), request.target().size());
    const bool metrics = request.method() == http::verb::get && (target == "/metrics" || target.starts_with("/metrics?"));
    net::HttpResponse res{metrics ? http::status::ok : http::status::not_found, request.version()};
    res.set(http::field::server, "pathbench");
    if (metrics) {
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = text_();
    } else {
      res.set(http::field::content_type, "text/plain");
      res.body() = "pathbench serves GET /metrics only\n";
    }
    return res;
  }

 private:
  std::function<std::string()> text_;
};

net::WsServerOptions metrics_server_options(const std::string& listen, std::shared_ptr<const TlsMaterial> tls) {
  net::WsServerOptions o;
  o.tls = std::move(tls);
  o.listen = listen;
  o.thread_name = "pb-metrics";
  o.name = "metrics";
  o.threads = 1;
  o.max_http_body_bytes = 64 * 1024;
  return o;
}

}  // namespace

struct MetricsHttpServer::Impl {
  Impl(const std::string& listen, std::function<std::string()> text, std::shared_ptr<const TlsMaterial> tls)
      : handler(std::move(text)), server(metrics_server_options(listen, std::move(tls)), handler) {}
  MetricsHandler handler;
  net::WsServer server;  // after the handler: stopped before it goes
};

MetricsHttpServer::MetricsHttpServer(const std::string& listen, std::function<std::string()> text,
                                     std::shared_ptr<const TlsMaterial> tls)
    : impl_(std::make_unique<Impl>(listen, std::move(text), std::move(tls))) {}
MetricsHttpServer::~MetricsHttpServer() = default;
std::string MetricsHttpServer::address() const { return impl_->server.address(); }
std::string MetricsHttpServer::url() const {
  return fmt::format("{}://{}/metrics", impl_->server.tls() ? "https" : "http", impl_->server.address());
}

std::string roles_exposition(const Topology& topology) {
  std::string text;
  if (auto* balancer = topology.balancer()) text += balancer_exposition(balancer->stats());
  auto workers = topology.worker_stats();
  if (!workers.empty()) text += workers_exposition(workers);
  auto tasks = topology.worker_task_stats();
  if (!tasks.empty()) text += tasks_exposition(tasks);
  return text;
}

}  // namespace pathbench
