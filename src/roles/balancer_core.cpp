// One mutex guards everything: the balancer's decisions are a few comparisons over a handful
// of backends, so a short critical section is cheaper than the ordering subtleties of atomics
// (an exact least-outstanding choice needs a consistent view of every in-flight count anyway).
#include "roles/balancer_core.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <source_location>
#include <utility>

#include "core/check.h"

namespace pathbench {

BackendResult backend_result_of_status(int code) noexcept {
  switch (code) {
    case 0:  // OK
    case 1:  // CANCELLED: the client gave up; not the worker's fault
    case 3:  // INVALID_ARGUMENT
    case 5:  // NOT_FOUND
      return BackendResult::success;
    case 14: return BackendResult::transport_failure;  // UNAVAILABLE
    default: return BackendResult::failure;
  }
}

namespace {

// A uniform index below `bound` from raw bits (multiply-shift on the top 32 bits): no
// division on the hot path, and for a handful of backends the bias (< bound / 2^32) is far
// below anything a run could observe. std::uniform_int_distribution is avoided so a seed
// gives the same choices with every standard library.
std::size_t below(std::uint64_t bits, std::size_t bound) noexcept {
  return static_cast<std::size_t>(((bits >> 32) * static_cast<std::uint64_t>(bound)) >> 32);
}

}  // namespace

BalancerCore::BalancerCore(std::vector<std::string> backend_addresses,
                           const BalancerPolicyConfig& config, Clock clock)
    : config_(config), clock_(std::move(clock)), rng_(config.seed) {
  check(static_cast<bool>(clock_), "BalancerCore needs a clock");
  check(config.failure_threshold >= 1, "BalancerPolicyConfig.failure_threshold must be >= 1");
  check(config.unhealthy_threshold >= 1, "BalancerPolicyConfig.unhealthy_threshold must be >= 1");
  check(config.healthy_threshold >= 1, "BalancerPolicyConfig.healthy_threshold must be >= 1");
  check(config.base_ejection_ns > 0, "BalancerPolicyConfig.base_ejection_ns must be > 0");
  check(config.max_ejection_ns >= config.base_ejection_ns,
        "BalancerPolicyConfig.max_ejection_ns must be >= base_ejection_ns");
  check(config.max_pending >= 0, "BalancerPolicyConfig.max_pending must be >= 0");
  // Both vectors are sized here once, so pick()/release() never allocate and indices handed
  // out by pick() stay valid for the core's lifetime.
  backends_.resize(backend_addresses.size());
  for (std::size_t i = 0; i < backends_.size(); ++i) backends_[i].address = std::move(backend_addresses[i]);
  candidates_.resize(backends_.size());
}

BalancerCore::Backend& BalancerCore::backend_at(int backend) {
  check(backend >= 0 && static_cast<std::size_t>(backend) < backends_.size(),
        "BalancerCore: backend index out of range");
  return backends_[static_cast<std::size_t>(backend)];
}

bool BalancerCore::still_ejected(Backend& b, Nanos now) noexcept {
  if (!b.ejected) return false;
  if (now < b.ejected_until_ns) return true;
  // The ejection ran out: clear the flag here rather than with a timer, so nothing runs in
  // the background and pick() can go back to not reading the clock once all have expired.
  // It comes back on probation: one request at a time until one succeeds.
  b.ejected = false;
  b.probation = true;
  --flagged_;
  return false;
}

bool BalancerCore::routable(Backend& b, Nanos now) noexcept {
  if (still_ejected(b, now)) return false;
  // A backend on probation may be still hung (a stopped process, a stalled disk): least
  // outstanding would otherwise see it idle and send it a flood; it gets one probe at a time.
  return !(b.probation && b.in_flight > 0);
}

Nanos BalancerCore::ejection_ns(int ejections_in_a_row) const noexcept {
  // Doubling step by step instead of shifting: n is unbounded for a backend that keeps
  // failing, and base << (n-1) would overflow long before the cap is reached.
  Nanos ns = config_.base_ejection_ns;
  for (int i = 1; i < ejections_in_a_row && ns < config_.max_ejection_ns; ++i) {
    ns = ns > config_.max_ejection_ns / 2 ? config_.max_ejection_ns : ns * 2;
  }
  return ns;
}

void BalancerCore::eject(Backend& b, Nanos now) noexcept {
  if (!b.ejected) ++flagged_;
  b.ejected = true;
  ++b.ejections_in_a_row;
  ++b.ejections;
  b.ejected_until_ns = now + ejection_ns(b.ejections_in_a_row);
  b.probation = false;  // set again when this ejection ends
  // Passes seen before the ejection say nothing about the backend now; early re-admission
  // needs healthy_threshold fresh ones.
  b.consecutive_passes = 0;
}

int BalancerCore::pick_least_outstanding(Nanos now) noexcept {
  // Scanning from a rotating start makes the first minimum found vary, so backends with equal
  // counts (the common case at low load) take turns instead of the lowest index winning all.
  const std::size_t n = backends_.size();
  int best = -1;
  int best_in_flight = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = next_ + k < n ? next_ + k : next_ + k - n;
    Backend& b = backends_[i];
    if (!routable(b, now)) continue;
    if (best < 0 || b.in_flight < best_in_flight) {
      best = static_cast<int>(i);
      best_in_flight = b.in_flight;
    }
  }
  return best;
}

int BalancerCore::pick_p2c(Nanos now) noexcept {
  std::size_t routable_count = 0;
  for (std::size_t i = 0; i < backends_.size(); ++i) {
    if (routable(backends_[i], now)) candidates_[routable_count++] = static_cast<int>(i);
  }
  if (routable_count == 0) return -1;
  if (routable_count == 1) return candidates_[0];
  // Two distinct candidates: draw the second from the remaining routable-1 and skip over the
  // first, so a backend is never compared with itself (which would let the busier one win).
  const std::size_t first = below(rng_(), routable_count);
  std::size_t second = below(rng_(), routable_count - 1);
  if (second >= first) ++second;
  const int a = candidates_[first];
  const int c = candidates_[second];
  return backends_[static_cast<std::size_t>(c)].in_flight <
                 backends_[static_cast<std::size_t>(a)].in_flight
             ? c
             : a;
}

int BalancerCore::pick_round_robin(Nanos now) noexcept {
  const std::size_t n = backends_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = next_ + k < n ? next_ + k : next_ + k - n;
    if (routable(backends_[i], now)) return static_cast<int>(i);
  }
  return -1;
}

BalancerCore::Pick BalancerCore::pick() {
  std::lock_guard lock(mutex_);
  // Admission comes first: a full balancer must shed load at once (RESOURCE_EXHAUSTED) whether
  // or not a backend is available, and a rejected request is not counted against any backend.
  if (pending_ >= config_.max_pending) return Pick{Pick::Kind::overloaded, -1};
  // With nothing ejected every backend is routable whatever the time, so the common case
  // skips the clock call altogether.
  const Nanos now = flagged_ > 0 ? clock_() : 0;
  int chosen = -1;
  switch (config_.policy) {
    case RoutingPolicy::least_outstanding: chosen = pick_least_outstanding(now); break;
    case RoutingPolicy::p2c: chosen = pick_p2c(now); break;
    case RoutingPolicy::round_robin: chosen = pick_round_robin(now); break;
  }
  if (chosen < 0) return Pick{Pick::Kind::no_backend, -1};
  next_ = static_cast<std::size_t>(chosen) + 1 < backends_.size() ? static_cast<std::size_t>(chosen) + 1 : 0;
  Backend& b = backends_[static_cast<std::size_t>(chosen)];
  ++b.in_flight;
  ++b.routed;
  ++pending_;
  return Pick{Pick::Kind::routed, chosen};
}

void BalancerCore::release(int backend, BackendResult result) {
  std::lock_guard lock(mutex_);
  Backend& b = backend_at(backend);
  check(b.in_flight > 0, "BalancerCore::release without a matching pick");
  --b.in_flight;
  --pending_;
  if (result == BackendResult::success) {
    b.consecutive_failures = 0;
    b.ejections_in_a_row = 0;
    b.probation = false;
    return;
  }
  ++b.failures;
  ++b.consecutive_failures;
  // The clock is read only when the answer matters: for a backend already ejected (a
  // straggler finishing after the ejection must not eject it again) or one about to be.
  const bool over_threshold = result == BackendResult::transport_failure ||
                              b.consecutive_failures >= config_.failure_threshold;
  if (!over_threshold) return;
  const Nanos now = clock_();
  if (!still_ejected(b, now)) eject(b, now);
}

void BalancerCore::health_result(int backend, bool serving) {
  std::lock_guard lock(mutex_);
  Backend& b = backend_at(backend);
  const Nanos now = clock_();
  const bool ejected = still_ejected(b, now);
  if (serving) {
    b.consecutive_misses = 0;
    ++b.consecutive_passes;
    if (b.consecutive_passes < config_.healthy_threshold) return;
    b.ejections_in_a_row = 0;
    if (ejected) {
      b.ejected = false;
      b.probation = true;  // health answers are not query answers: one probe until one succeeds
      --flagged_;
      b.ejected_until_ns = now;  // the snapshot then shows when the ejection actually ended
    }
    return;
  }
  b.consecutive_passes = 0;
  ++b.consecutive_misses;
  if (!ejected && b.consecutive_misses >= config_.unhealthy_threshold) eject(b, now);
}

std::size_t BalancerCore::size() const noexcept { return backends_.size(); }

const std::string& BalancerCore::address(int backend) const {
  // Addresses never change after construction, so no lock is needed.
  check(backend >= 0 && static_cast<std::size_t>(backend) < backends_.size(),
        "BalancerCore: backend index out of range");
  return backends_[static_cast<std::size_t>(backend)].address;
}

std::vector<BackendSnapshot> BalancerCore::snapshot() const {
  std::vector<BackendSnapshot> out;
  out.reserve(backends_.size());  // outside the lock: the size never changes
  std::lock_guard lock(mutex_);
  const Nanos now = clock_();
  for (const Backend& b : backends_) {
    BackendSnapshot s;
    s.address = b.address;
    // Expiry is judged here without clearing the flag: snapshot() is const, and pick() will
    // clear it on its next scan.
    s.ejected = b.ejected && now < b.ejected_until_ns;
    s.in_flight = b.in_flight;
    s.routed = b.routed;
    s.failures = b.failures;
    s.ejections = b.ejections;
    s.ejected_until_ns = b.ejected_until_ns;
    out.push_back(std::move(s));
  }
  return out;
}

int BalancerCore::pending() const {
  std::lock_guard lock(mutex_);
  return pending_;
}

}  // namespace pathbench
