#include <fmt/format.h>

#include "net/websocket_channel.h"

namespace pathbench::net {

namespace ws_detail {

std::uint64_t next_channel_id() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}

}  // namespace ws_detail

std::string ws_url(bool tls, const std::string& host_port, std::string_view target) {
  return fmt::format("{}://{}{}", tls ? "wss" : "ws", host_port, target);
}

}  // namespace pathbench::net
