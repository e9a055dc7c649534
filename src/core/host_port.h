// "host:port" as every listen address, endpoint and URL authority in pathbench is written:
// the one parser (scenario validation, listeners, clients). An IPv6 host is written in brackets
// ("[::1]:50051") and comes back without them. Port 0 is allowed where `allow_port_zero` says
// (listeners: "any free port").
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pathbench {

struct HostPort {
  std::string host;        // never empty; brackets of an IPv6 literal removed
  std::uint16_t port = 0;

  std::string to_string() const;  // brackets put back around an IPv6 host
};

// Nothing when `text` is not host:port with a decimal port in 1..65535 (0..65535 when
// allow_port_zero), or the host is empty.
std::optional<HostPort> parse_host_port(std::string_view text, bool allow_port_zero = false) noexcept;

}  // namespace pathbench
