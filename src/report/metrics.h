// Prometheus exposition of what is going on, for `--metrics ADDR` during runs and in `serve`
// mode. The load generator's numbers arrive once per completed second per path (never per
// request); the roles' counters are read when scraped. Thread-safe.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/tls_config.h"
#include "measure/interval.h"
#include "roles/balancer.h"
#include "roles/echo_server.h"
#include "roles/worker.h"
#include "runner/topology.h"

namespace pathbench {

class MetricsRegistry {
 public:
  // Adds one completed second of a path: outcome counters and latency histogram buckets.
  void add_second(const std::string& path, const IntervalBucket& bucket);
  // Text that the roles contribute at scrape time (balancer, workers); empty function = none.
  void set_roles_source(std::function<std::string()> source);
  // The whole exposition, text format 0.0.4.
  std::string exposition() const;

 private:
  struct PathSeries {
    std::array<std::uint64_t, kOutcomeCount> outcomes{};
    std::vector<std::uint64_t> bucket_counts;  // cumulative per bound in kLatencyBoundsSeconds, then +Inf
    double sum_seconds = 0;
    std::uint64_t count = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::string, PathSeries> paths_;
  std::function<std::string()> roles_source_;
};

// Exposition text for one balancer's / worker's counters (used by runs and by `serve`).
std::string balancer_exposition(const BalancerStats& stats);
std::string workers_exposition(const std::vector<std::pair<std::string, WorkerStats>>& workers);
std::string echo_exposition(const EchoServer& echo);
// The workers' task engines (report/task_metrics.cpp): in processing, completed and duration by type.
std::string tasks_exposition(const std::vector<std::pair<std::string, TaskEngineStats>>& workers);
// Both, for a run's spawned roles (empty when it spawned none).
std::string roles_exposition(const Topology& topology);

// GET /metrics answered with `text()` (text/plain; version=0.0.4) on net's WsServer, which takes
// no WebSocket here; anything else gets 404, a malformed request 400 and that connection closed.
// Keep-alive is honoured. One thread "pb-metrics", on which `text()` runs.
class MetricsHttpServer {
 public:
  // `listen` is "host:port" (port 0 = free). Throws std::runtime_error when it cannot listen.
  // With `tls`: https:// only, mutual TLS (a scraper presents a certificate from the same CA).
  MetricsHttpServer(const std::string& listen, std::function<std::string()> text,
                    std::shared_ptr<const TlsMaterial> tls = nullptr);
  ~MetricsHttpServer();
  std::string address() const;
  std::string url() const;  // "http://HOST:PORT/metrics" or "https://…"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathbench
