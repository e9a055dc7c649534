// Every issued request ends in exactly one Outcome. Transports map their own
// status codes onto these kinds; the load generator counts them per phase.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/clock.h"

namespace pathbench {

enum class Outcome : std::uint8_t {
  ok,
  timeout,           // no reply within the request's deadline (counted by the load generator)
  rejected,          // refused by admission control / overflow (RESOURCE_EXHAUSTED, broker overflow)
  unavailable,       // no server to take it (connection refused, all workers ejected, UNAVAILABLE)
  invalid_argument,  // the server said the request was malformed
  server_error,      // the server failed while handling it (INTERNAL, SQL error, ...)
  transport_error,   // the connection broke while the request was in flight
  protocol_error,    // a reply that could not be parsed or matched
};
inline constexpr std::size_t kOutcomeCount = 8;
inline constexpr std::array<Outcome, kOutcomeCount> kAllOutcomes{
    Outcome::ok,          Outcome::timeout,          Outcome::rejected,     Outcome::unavailable,
    Outcome::invalid_argument, Outcome::server_error, Outcome::transport_error, Outcome::protocol_error};

constexpr std::string_view to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::ok: return "ok";
    case Outcome::timeout: return "timeout";
    case Outcome::rejected: return "rejected";
    case Outcome::unavailable: return "unavailable";
    case Outcome::invalid_argument: return "invalid_argument";
    case Outcome::server_error: return "server_error";
    case Outcome::transport_error: return "transport_error";
    case Outcome::protocol_error: return "protocol_error";
  }
  return "?";
}

// The outcomes that count as "errors" in summaries: all but ok, timeout and rejected.
constexpr bool is_error(Outcome outcome) noexcept {
  return outcome != Outcome::ok && outcome != Outcome::timeout && outcome != Outcome::rejected;
}

// What the servers on the way report about one request (0 = not reported / not on the path).
struct Hops {
  Nanos balancer_ns = 0;      // the balancer's time from receiving the request to replying
  Nanos worker_total_ns = 0;  // the worker's time from receiving the request to replying
  Nanos worker_queue_ns = 0;  // of which waiting for a SQL thread
  Nanos worker_sql_ns = 0;    // of which inside SQLite
};

}  // namespace pathbench
