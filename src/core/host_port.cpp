#include "core/host_port.h"

#include <charconv>

namespace pathbench {

std::string HostPort::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<HostPort> parse_host_port(std::string_view text, bool allow_port_zero) noexcept {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return std::nullopt;
  unsigned value = 0;
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || ptr != last || value > 65535 || (value == 0 && !allow_port_zero)) return std::nullopt;
  try {
    return HostPort{std::string(host), static_cast<std::uint16_t>(value)};
  } catch (...) {
    return std::nullopt;  // out of memory for a host name: treat as unparsable
  }
}

}  // namespace pathbench
