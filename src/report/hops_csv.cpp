#include <fmt/format.h>

#include <fstream>

#include "report/writers.h"

namespace pathbench {

namespace {

// Per-hop breakdown, long format: one row per (path, phase, hop). The hops of a request add up
// to its time from actual send to reply, so the means stack into the uncorrected mean.
class HopsCsvWriter final : public ResultWriter {
 public:
  std::string_view name() const override { return "hops.csv"; }
  void write(const RunResult& result, const std::filesystem::path& dir) const override {
    bool any = false;
    for (auto& p : result.paths)
      for (auto& s : p.phases) any = any || s.hops_recorded > 0;
    if (!any) return;  // no path in this run reports server timings
    auto out = open_output(dir / "hops.csv");
    out << "path,phase,hop,requests,p50_us,p90_us,p99_us,mean_us\n";
    for (auto& p : result.paths) {
      for (std::size_t i = 0; i < p.plan.size() && i < p.phases.size(); ++i) {
        const PhaseStats& s = p.phases[i];
        if (!p.plan[i].measured || s.hops_recorded == 0) continue;
        const std::pair<const char*, const Histogram*> hops[] = {
            {"client_total", &s.uncorrected},       {"client_and_network", &s.hop_client_network},
            {"balancer", &s.hop_balancer},          {"worker_queue", &s.hop_worker_queue},
            {"worker_sql", &s.hop_worker_sql},      {"worker_other", &s.hop_worker_other}};
        for (auto& [hop, h] : hops) {
          if (std::string_view(hop) == "balancer" && p.via != "balancer") continue;
          out << fmt::format("{},{},{},{},{:.3f},{:.3f},{:.3f},{:.3f}\n", p.label, p.plan[i].name, hop, h->total_count(),
                             to_micros(h->value_at_percentile(50)), to_micros(h->value_at_percentile(90)),
                             to_micros(h->value_at_percentile(99)), h->mean() / 1000.0);
        }
      }
    }
    out.close();
  }
};

// The balancer's per-worker counters for each path that went through it.
class BackendsCsvWriter final : public ResultWriter {
 public:
  std::string_view name() const override { return "balancer.csv"; }
  void write(const RunResult& result, const std::filesystem::path& dir) const override {
    bool any = false;
    // Only the paths that went through the balancer this run spawned (an external one's counters
    // are its own: the summary says so, report/table.cpp).
    auto used = [](const PathRunResult& p) { return p.via == "balancer" && !p.backends.empty(); };
    for (auto& p : result.paths) any = any || used(p);
    if (!any) return;
    auto out = open_output(dir / "balancer.csv");
    out << "path,worker,routed,share,failures,ejections,ejected_at_end,in_flight_at_end\n";
    for (auto& p : result.paths) {
      if (!used(p)) continue;
      std::uint64_t total = 0;
      for (auto& b : p.backends) total += b.routed;
      for (auto& b : p.backends)
        out << fmt::format("{},{},{},{:.4f},{},{},{},{}\n", p.label, b.address, b.routed,
                           total ? static_cast<double>(b.routed) / static_cast<double>(total) : 0.0, b.failures,
                           b.ejections, b.ejected ? "true" : "false", b.in_flight);
    }
    out.close();
  }
};

}  // namespace

std::unique_ptr<ResultWriter> make_hops_csv_writer() { return std::make_unique<HopsCsvWriter>(); }
std::unique_ptr<ResultWriter> make_balancer_csv_writer() { return std::make_unique<BackendsCsvWriter>(); }

}  // namespace pathbench
