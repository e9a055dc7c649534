#include "scenario/scenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>

namespace pathbench {

namespace {
constexpr std::array<RoutingPolicy, 3> kAllRoutingPolicies{
    RoutingPolicy::least_outstanding, RoutingPolicy::p2c, RoutingPolicy::round_robin};
}  // namespace

std::string_view to_string(RoutingPolicy policy) noexcept {
  switch (policy) {
    case RoutingPolicy::least_outstanding: return "least_outstanding";
    case RoutingPolicy::p2c: return "p2c";
    case RoutingPolicy::round_robin: return "round_robin";
  }
  return "unknown";  // only reachable through a cast of an out-of-range value
}

std::optional<RoutingPolicy> routing_policy_from_string(std::string_view name) noexcept {
  // Loop over the policies so a new one needs only its to_string case.
  for (RoutingPolicy policy : kAllRoutingPolicies) {
    if (to_string(policy) == name) return policy;
  }
  return std::nullopt;
}


std::string_view to_string(LoadMode mode) noexcept { return mode == LoadMode::open ? "open" : "closed"; }
std::string_view to_string(Arrival arrival) noexcept {
  return arrival == Arrival::constant ? "constant" : "poisson";
}

std::string_view to_string(FaultAction action) noexcept {
  switch (action) {
    case FaultAction::kill_worker: return "kill_worker";
    case FaultAction::restart_worker: return "restart_worker";
    case FaultAction::slow_worker: return "slow_worker";
    case FaultAction::pause_worker: return "pause_worker";
    case FaultAction::resume_worker: return "resume_worker";
    case FaultAction::pause_consumers: return "pause_consumers";
    case FaultAction::resume_consumers: return "resume_consumers";
    case FaultAction::drop_connections: return "drop_connections";
  }
  return "?";
}

bool parse_duration(std::string_view text, Nanos& out) noexcept {
  // A decimal number followed directly by a unit; no sign, no spaces, no bare numbers
  // (a bare "30" would be ambiguous between seconds and milliseconds).
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == 0 || i == text.size()) return false;
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, value);
  if (ec != std::errc() || ptr != text.data() + i) return false;
  std::string_view unit = text.substr(i);
  double scale = 0;
  if (unit == "ns") scale = 1;
  else if (unit == "us" || unit == "µs") scale = 1e3;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "s") scale = 1e9;
  else if (unit == "m") scale = 60e9;
  else if (unit == "h") scale = 3600e9;
  else return false;
  double ns = value * scale;
  if (!std::isfinite(ns) || ns > 7.0 * 24 * 3600e9) return false;  // a week is plenty
  out = static_cast<Nanos>(std::llround(ns));
  return true;
}

std::string format_duration(Nanos ns) {
  // The largest unit that represents the value exactly, so the text parses back to the same value.
  struct Unit {
    Nanos scale;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{3600 * kNanosPerSecond, "h"}, {60 * kNanosPerSecond, "m"},
                                    {kNanosPerSecond, "s"},        {kNanosPerMilli, "ms"},
                                    {kNanosPerMicro, "us"},        {1, "ns"}};
  if (ns == 0) return "0s";
  for (auto& u : kUnits)
    if (ns % u.scale == 0) return fmt::format("{}{}", ns / u.scale, u.name);
  return fmt::format("{}ns", ns);
}

bool is_file_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 100 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::string path_broker_kind(const Scenario& scenario, const PathSpec& path) {
  if (path.kind == "queue" || path.kind == "messaging") return path.via;
  if (path.kind == "task" && path.via == "queue") return scenario.broker.kind;
  return "";
}

std::string broker_url_for(const BrokerConfig& broker, const std::string& kind) {
  return kind == broker.kind && !broker.url.empty() ? broker.url : "auto";
}

Nanos planned_length_ns(const LoadConfig& load) noexcept {
  if (load.phases.empty()) return load.warmup_ns + load.duration_ns;
  Nanos total = load.warmup_ns;
  for (auto& p : load.phases) total += p.duration_ns;
  return total;
}

double expected_measured_requests(const LoadConfig& load) noexcept {
  if (load.phases.empty()) return load.rate_per_s * static_cast<double>(load.duration_ns) / 1e9;
  double total = 0;
  for (auto& p : load.phases) {
    const double start = p.rate_per_s > 0 ? p.rate_per_s : load.rate_per_s;
    const double end = p.ramp_to_per_s > 0 ? p.ramp_to_per_s : start;
    total += (start + end) / 2 * static_cast<double>(p.duration_ns) / 1e9;
  }
  return total;
}

}  // namespace pathbench
