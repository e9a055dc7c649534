#include "runner/knee.h"

#include <fmt/format.h>

#include <cmath>

namespace pathbench {

std::string judge_probe(const PhaseStats& s, double rate_per_s, Nanos duration_ns, const KneeConfig& config) {
  if (s.issued == 0) return "nothing was issued";
  std::int64_t failed = s.errors() + s.count(Outcome::timeout) + s.count(Outcome::rejected);
  double error_ratio = static_cast<double>(failed) / static_cast<double>(s.issued);
  if (error_ratio > config.max_error_ratio)
    return fmt::format("errors {:.3f} % > {:.3f} %", 100 * error_ratio, 100 * config.max_error_ratio);
  // Against what was actually offered: Poisson arrivals in a short probe stray a few percent
  // from the nominal rate, which is no fault of the path.
  double seconds = static_cast<double>(duration_ns) / 1e9;
  double achieved = static_cast<double>(s.count(Outcome::ok)) / seconds;
  double offered = static_cast<double>(s.issued) / seconds;
  if (achieved < 0.99 * offered) return fmt::format("achieved {:.0f}/s < 99 % of the {:.0f}/s offered", achieved, offered);
  if (offered < 0.9 * rate_per_s) return fmt::format("offered {:.0f}/s < 90 % of {:.0f}/s", offered, rate_per_s);
  Nanos lag = s.lag.value_at_percentile(99);
  if (lag > config.slo_p99_ns)
    return fmt::format("the load generator fell behind (send lag p99 {:.0f} us)", static_cast<double>(lag) / 1e3);
  Nanos p99 = std::min(s.latency.value_at_percentile(99), s.latency.max());
  if (p99 > config.slo_p99_ns)
    return fmt::format("p99 {:.0f} us > SLO {:.0f} us", static_cast<double>(p99) / 1e3,
                       static_cast<double>(config.slo_p99_ns) / 1e3);
  return "ok";
}

KneeResult find_knee(const Scenario& scenario, const PathSpec& spec, const PathInfo& info, PathInstance& instance,
                     const KneeConfig& config, const std::atomic<bool>& stop,
                     const std::function<void(const KneeProbe&)>& on_probe, const DatasetShape* shape) {
  KneeResult result;
  auto probe = [&](double rate) {
    Scenario s = scenario;
    s.load.mode = LoadMode::open;
    s.load.rate_per_s = rate;
    s.load.phases.clear();
    s.load.duration_ns = config.probe_duration_ns;
    s.load.warmup_ns = config.probe_warmup_ns;
    KneeProbe p;
    p.rate_per_s = rate;
    p.run = run_path(s, spec, info.carries_queries, instance, stop, {}, {}, shape);
    if (!p.run.failure.empty()) {
      p.verdict = "failed: " + p.run.failure;
    } else {
      p.verdict = judge_probe(p.run.phases.back(), rate, config.probe_duration_ns, config);
      p.sustainable = p.verdict == "ok";
    }
    result.probes.push_back(std::move(p));
    if (on_probe) on_probe(result.probes.back());
    return result.probes.back().sustainable;
  };

  // Upward by doublings from the low rate, so the machine is not thrown into deep overload
  // before the answer is even bracketed; then geometric bisection inside the bracket.
  double low = config.low_rate_per_s, high = config.high_rate_per_s;
  // One hiccup of a shared machine must not end the search: the low rate gets a second try.
  if (!probe(low) && (stop || !probe(low))) return result;  // knee below the range (0)
  double next = low * 2;
  for (;;) {
    if (stop) break;
    if (next >= config.high_rate_per_s) {
      if (probe(config.high_rate_per_s)) {
        result.knee_rate_per_s = config.high_rate_per_s;
        result.above_high = true;
        result.confirmed = true;
        return result;
      }
      high = config.high_rate_per_s;
      break;
    }
    if (!probe(next)) {
      high = next;
      break;
    }
    low = next;
    next *= 2;
  }
  // Geometric bisection: the rates span orders of magnitude, the answer is wanted to a ratio.
  while (!stop && high / low - 1 > config.resolution) {
    double mid = std::sqrt(low * high);
    (probe(mid) ? low : high) = mid;
  }
  // Confirm: the answer must hold a second time; if not, step down by the resolution (twice at most).
  for (int attempt = 0; attempt < 3 && !stop; ++attempt) {
    if (probe(low)) {
      result.confirmed = true;
      break;
    }
    low /= 1 + config.resolution;
  }
  result.knee_rate_per_s = low;
  return result;
}

}  // namespace pathbench
