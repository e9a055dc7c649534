// What one client thread records for one phase of one path; merged across threads after join.
// Owned by exactly one thread while the run is going: no locks, no atomics, no allocation.
#pragma once
#include <array>
#include <cstdint>
#include <numeric>
#include <string>

#include "core/clock.h"
#include "core/histogram.h"
#include "core/outcome.h"

namespace pathbench {

// A request counts as sent on time when it left at most this long after its intended send
// time: the generator's own wake-up lag on a quiet machine stays well below it, so a
// shortfall means the schedule could not be kept (the in-flight cap was full, or the
// generator fell behind).
inline constexpr Nanos kOnTimeToleranceNs = kNanosPerMilli;

// Per-kind results (heavy vs point, a task's type): a small fixed array in every PhaseStats, so
// recording a request's kind allocates nothing. Kinds are known before the run (the path's
// request_kinds(), or the query mix's kinds).
inline constexpr std::size_t kMaxRequestKinds = 4;
struct KindStats {
  Histogram latency{};  // ns, from the intended send time; ok only
  std::array<std::int64_t, kOutcomeCount> outcomes{};
  std::int64_t issued = 0;
  void merge(const KindStats& other) {
    latency.merge(other.latency);
    for (std::size_t i = 0; i < kOutcomeCount; ++i) outcomes[i] += other.outcomes[i];
    issued += other.issued;
  }
};

struct PhaseStats {
  Histogram latency{};    // ns, completion - intended send time (coordinated omission corrected); ok only
  Histogram uncorrected{};  // ns, completion - actual send time; ok only
  Histogram lag{};        // ns, actual send - intended send (how late the generator was); every issued request
  // ns, the same for the open-loop requests that had a free in-flight slot when they were due: the
  // generator's own wake-up lag (timer, scheduling, a busy client thread). `lag` minus these is
  // time spent waiting for the in-flight cap, i.e. for the server.
  Histogram wakeup_lag{};
  // Per-hop breakdown of ok requests whose servers reported their timings (ns). The parts add
  // up to the request's time from actual send to reply: client + network (everything outside
  // the outermost server), the balancer's own share, and the worker's queue wait, SQL and rest.
  Histogram hop_client_network{}, hop_balancer{}, hop_worker_queue{}, hop_worker_sql{}, hop_worker_other{};
  std::int64_t hops_recorded = 0;
  std::array<std::int64_t, kOutcomeCount> outcomes{};
  std::int64_t issued = 0;
  // Issued no later than kOnTimeToleranceNs after their intended send time (closed loop: all).
  std::int64_t sent_on_time = 0;
  // Never sent: waited in the open-loop backlog (every in-flight slot taken) past the deadline;
  // counted in issued and as timeouts.
  std::int64_t unsent = 0;
  // By request kind (index into the run's kind names); requests never sent (unsent) have no kind.
  std::array<KindStats, kMaxRequestKinds> kinds{};

  // One-way messaging paths (paths/messaging.h) only, filled after the run from the consumers'
  // logs: there `latency` is end-to-end (intended publish -> consumer finished and acked, first
  // delivery of each message, not expired) and `publish_latency` is intended publish -> broker
  // confirm (what the load generator timed). Counts are by the phase of the intended publish
  // time; lost and expired messages are counted as timeouts, not ok (confirmed keeps the broker's
  // confirms); backlog_max / drain_ns are the path's (the same on every phase). Not merged by merge():
  // one writer fills them after the client threads are joined.
  struct Messaging {
    bool present = false;
    std::int64_t published = 0, confirmed = 0, consumed = 0, duplicated = 0, lost = 0, expired = 0;
    std::int64_t backlog_max = -1;  // -1: not sampled
    Nanos drain_ns = -1;            // -1: not drained within the drain limit
  } messaging;
  Histogram publish_latency{};

  void record_hops(const Hops& h, Nanos client_total_ns) noexcept {
    ++hops_recorded;
    Nanos outermost = h.balancer_ns > 0 ? h.balancer_ns : h.worker_total_ns;
    hop_client_network.record(client_total_ns - outermost);
    hop_balancer.record(h.balancer_ns > 0 ? h.balancer_ns - h.worker_total_ns : 0);
    hop_worker_queue.record(h.worker_queue_ns);
    hop_worker_sql.record(h.worker_sql_ns);
    hop_worker_other.record(h.worker_total_ns - h.worker_queue_ns - h.worker_sql_ns);
  }

  std::int64_t count(Outcome o) const noexcept { return outcomes[static_cast<std::size_t>(o)]; }
  std::int64_t completed() const noexcept { return std::accumulate(outcomes.begin(), outcomes.end(), std::int64_t{0}); }
  std::int64_t errors() const noexcept {
    std::int64_t n = 0;
    for (auto o : kAllOutcomes)
      if (is_error(o)) n += count(o);
    return n;
  }
  void merge(const PhaseStats& other) {
    latency.merge(other.latency);
    uncorrected.merge(other.uncorrected);
    lag.merge(other.lag);
    wakeup_lag.merge(other.wakeup_lag);
    hop_client_network.merge(other.hop_client_network);
    hop_balancer.merge(other.hop_balancer);
    hop_worker_queue.merge(other.hop_worker_queue);
    hop_worker_sql.merge(other.hop_worker_sql);
    hop_worker_other.merge(other.hop_worker_other);
    hops_recorded += other.hops_recorded;
    for (std::size_t i = 0; i < kOutcomeCount; ++i) outcomes[i] += other.outcomes[i];
    issued += other.issued;
    sent_on_time += other.sent_on_time;
    unsent += other.unsent;
    for (std::size_t k = 0; k < kMaxRequestKinds; ++k) kinds[k].merge(other.kinds[k]);
  }
};

}  // namespace pathbench
