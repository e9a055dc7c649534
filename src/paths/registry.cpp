#include "paths/registry.h"

#include <algorithm>

#include "paths/broker_path.h"
#include "paths/grpc_stream.h"
#include "paths/grpc_unary.h"
#include "paths/queue.h"
#include "paths/tcp_echo.h"
#include "paths/websocket.h"

namespace pathbench {

namespace {

const std::vector<PathInfo>& table() {
  static const std::vector<PathInfo> paths{
      {"tcp_echo", "raw TCP ping-pong with an in-process echo server: the floor, no query", {"direct"}, false,
       &create_tcp_echo},
      {"grpc_unary", "gRPC unary Query calls to the workers' SQL queries", {"balancer", "direct"}, true,
       &create_grpc_unary},
      {"grpc_stream", "gRPC bidirectional QueryStream, many requests in flight per stream", {"balancer", "direct"},
       true, &create_grpc_stream},
      {"websocket", "binary WebSocket messages (QueryRequest/QueryReply), many requests in flight per connection",
       {"balancer", "direct"}, true, &create_websocket},
      {"queue", "request/reply through a message broker (reply-to + correlation id), workers as competing consumers",
       {"embedded", "rabbitmq", "nats"}, true, &create_queue},
      {"broker", "one message published and consumed back through a front of the in-process broker (publish->consume)",
       {"native", "grpc_unary", "grpc_stream", "websocket", "http"}, false, &create_broker_path},
  };
  return paths;
}

}  // namespace

std::span<const PathInfo> path_registry() { return table(); }

const PathInfo* find_path(std::string_view kind) noexcept {
  auto& paths = table();
  auto it = std::find_if(paths.begin(), paths.end(), [&](const PathInfo& p) { return p.kind == kind; });
  return it == paths.end() ? nullptr : &*it;
}

PathKinds path_kinds() {
  static const std::vector<PathKind> kinds = [] {
    std::vector<PathKind> out;
    for (auto& p : table()) out.push_back({p.kind, p.vias});
    return out;
  }();
  return kinds;
}

Scenario load_scenario_file(const std::filesystem::path& file) { return load_scenario_file(file, path_kinds()); }

Scenario load_scenario_text(std::string_view toml_text, const std::string& source_name) {
  return load_scenario_text(toml_text, source_name, path_kinds());
}

}  // namespace pathbench
