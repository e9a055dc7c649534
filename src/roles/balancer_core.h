// The balancer's decisions, apart from any transport, so gRPC and WebSocket fronts share
// one mechanism and tests drive it with a fake clock:
//   - routing: least outstanding requests (exact), power of two choices, round robin;
//   - passive ejection (circuit breaker): at once on a transport failure, or after
//     `failure_threshold` consecutive failures; the ejection lasts base * 2^(n-1) for the
//     n-th ejection in a row, capped at max; after it the backend is routable again
//     ("half-open") but on probation — at most one request in flight on it until one succeeds,
//     so a still-hung backend is not flooded by least-outstanding (it looks idle); a transport
//     failure, or one more failure after a streak that had reached the threshold, ejects it
//     again; a success resets the streak and ends the probation;
//   - active health checks: `unhealthy_threshold` consecutive misses eject, and an ejected
//     backend comes back (on probation) after `healthy_threshold` consecutive passes (or its
//     ejection time ends);
//   - admission: at most `max_pending` requests outstanding over all backends.
//
// The streak rules in full (per backend):
//   - the consecutive-failure streak (transport failures included) is reset only by a
//     success, never by an ejection or its end, so a half-open backend whose streak had
//     reached failure_threshold is ejected again by its next failure; likewise the
//     health-check miss streak is reset only by a pass, so a backend still missing when its
//     ejection ends is ejected again by its next miss;
//   - the pass streak is reset by a miss and by every ejection: an ejected backend needs
//     healthy_threshold passes after its ejection to come back early;
//   - n (ejections in a row) goes back to 0 on a success or when the passes reach
//     healthy_threshold (ejected or not);
//   - while a backend is ejected, results of requests still in flight on it and health
//     misses are counted but do not eject it again (a killed worker's in-flight requests
//     must not multiply its ejection time).
//
// Thread-safety: every member may be called from any thread (gRPC callbacks, health checker).
// pick()/release() are on the hot path: they take one short mutex; no allocation, and
// pick() reads the clock only while some backend is ejected.
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "scenario/scenario.h"

namespace pathbench {


// How a forwarded request ended, as far as the backend's health is concerned.
enum class BackendResult : std::uint8_t {
  success,            // answered (including application errors such as INVALID_ARGUMENT)
  failure,            // the backend failed it (INTERNAL, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED ...)
  transport_failure,  // connection refused/reset, UNAVAILABLE: eject at once
};

// What a request's status (gRPC code numbers, as carried by every front) says about the backend.
BackendResult backend_result_of_status(int status_code) noexcept;

struct BackendSnapshot {
  std::string address;
  bool ejected = false;
  int in_flight = 0;
  std::uint64_t routed = 0;
  std::uint64_t failures = 0;
  std::uint64_t ejections = 0;
  // When the latest ejection ends (or ended: early re-admission by health checks records
  // that moment); 0 if never ejected. Same clock as the core's.
  Nanos ejected_until_ns = 0;
};

class BalancerCore {
 public:
  using Clock = std::function<Nanos()>;  // steady clock in ns; tests pass a fake one
  // Requires the thresholds >= 1, 0 < base_ejection_ns <= max_ejection_ns, max_pending >= 0
  // (the scenario loader validates these; a violation is a bug: prints file:line, aborts).
  // No backends is allowed: every pick() is then no_backend.
  BalancerCore(std::vector<std::string> backend_addresses, const BalancerPolicyConfig& config,
               Clock clock = &now_ns);

  struct Pick {
    enum class Kind : std::uint8_t { routed, overloaded, no_backend } kind = Kind::no_backend;
    int backend = -1;  // valid when routed; the caller must call release() exactly once
  };
  // Chooses a backend and counts the request as outstanding on it. overloaded: max_pending
  // reached (answer RESOURCE_EXHAUSTED); no_backend: every backend ejected (UNAVAILABLE).
  Pick pick();
  // The request routed to `backend` finished. A backend out of range, or one with nothing
  // in flight (release() called twice), is a bug: aborts.
  void release(int backend, BackendResult result);

  // Health checker's verdicts.
  void health_result(int backend, bool serving);

  std::size_t size() const noexcept;
  const std::string& address(int backend) const;
  std::vector<BackendSnapshot> snapshot() const;
  int pending() const;

 private:
  struct Backend {
    std::string address;
    int in_flight = 0;
    int consecutive_failures = 0;
    int consecutive_misses = 0;
    int consecutive_passes = 0;
    int ejections_in_a_row = 0;  // n in base * 2^(n-1)
    bool ejected = false;        // set by eject(); cleared lazily once the clock passes ejected_until_ns
    bool probation = false;      // back from an ejection: one request in flight until one succeeds
    Nanos ejected_until_ns = 0;
    std::uint64_t routed = 0;
    std::uint64_t failures = 0;
    std::uint64_t ejections = 0;
  };

  Backend& backend_at(int backend);
  bool still_ejected(Backend& b, Nanos now) noexcept;
  bool routable(Backend& b, Nanos now) noexcept;
  void eject(Backend& b, Nanos now) noexcept;
  Nanos ejection_ns(int ejections_in_a_row) const noexcept;
  int pick_least_outstanding(Nanos now) noexcept;
  int pick_p2c(Nanos now) noexcept;
  int pick_round_robin(Nanos now) noexcept;

  const BalancerPolicyConfig config_;
  const Clock clock_;
  mutable std::mutex mutex_;
  std::vector<Backend> backends_;  // sized once in the constructor; never reallocates
  std::vector<int> candidates_;    // p2c's scratch list of routable backends, sized once
  std::mt19937_64 rng_;
  std::size_t next_ = 0;           // where the next round-robin / tie-breaking scan starts
  int pending_ = 0;                // sum of in_flight
  int flagged_ = 0;                // backends with ejected == true; 0 lets pick() skip the clock
};

}  // namespace pathbench
