#include "paths/registry.h"

#include <algorithm>

#include "paths/broker_grpc_stream.h"
#include "paths/broker_grpc_unary.h"
#include "paths/broker_http.h"
#include "paths/broker_native.h"
#include "paths/broker_websocket.h"
#include "paths/grpc_stream.h"
#include "paths/grpc_unary.h"
#include "paths/messaging.h"
#include "paths/queue.h"
#include "paths/task.h"
#include "paths/tcp_echo.h"
#include "paths/websocket.h"

namespace pathbench {

namespace {

// The transports that serve several routes read spec.via themselves (the same create function
// on several rows); the broker's fronts are one file pair each.
const std::vector<PathInfo>& table() {
  static const std::vector<PathInfo> paths{
      {"tcp_echo", "direct", "raw TCP ping-pong with an in-process echo server: the floor, no query", false,
       &create_tcp_echo},
      {"grpc_unary", "balancer", "gRPC unary Query calls to the workers' SQL queries, through the balancer", true,
       &create_grpc_unary},
      {"grpc_unary", "direct", "gRPC unary Query calls straight to the workers", true, &create_grpc_unary},
      {"grpc_stream", "balancer", "gRPC bidirectional QueryStream, many requests in flight per stream, through the balancer",
       true, &create_grpc_stream},
      {"grpc_stream", "direct", "gRPC bidirectional QueryStream straight to the workers", true, &create_grpc_stream},
      {"websocket", "balancer",
       "binary WebSocket messages (QueryRequest/QueryReply), many requests in flight per connection, through the balancer",
       true, &create_websocket},
      {"websocket", "direct", "binary WebSocket messages straight to the workers", true, &create_websocket},
      {"queue", "embedded",
       "request/reply through a message broker (reply-to + correlation id), workers as competing consumers: pathbench's own broker",
       true, &create_queue},
      {"queue", "rabbitmq", "request/reply through RabbitMQ (AMQP 0-9-1)", true, &create_queue},
      {"queue", "nats", "request/reply through NATS", true, &create_queue},
      {"task", "balancer",
       "tasks with state (seed 003): the client inserts the task row as received, a gRPC Task call has a worker "
       "claim it, do its type's work and mark it done; through the balancer",
       true, &create_task},
      {"task", "direct", "tasks with state, gRPC Task calls straight to the workers", true, &create_task},
      {"broker", "native",
       "one message published and consumed back through a front of the in-process broker (publish->consume): native protocol",
       false, &create_broker_native},
      {"broker", "grpc_unary", "publish->consume through the broker's gRPC Produce/Consume calls", false,
       &create_broker_grpc_unary},
      {"broker", "grpc_stream", "publish->consume through the broker's gRPC StreamMessages stream", false,
       &create_broker_grpc_stream},
      {"broker", "websocket", "publish->consume through the broker's WebSocket /ws/publish and /ws/consume", false,
       &create_broker_websocket},
      {"broker", "http", "publish->consume through the broker's HTTP /api/publish and /api/fetch", false,
       &create_broker_http},
      {"messaging", "embedded",
       "one-way messages: published on the schedule (confirmed by the broker), consumed by the workers as competing "
       "consumers doing the query; publish and end-to-end latency, backlog: pathbench's own broker",
       true, &create_messaging},
      {"messaging", "rabbitmq", "one-way messages through RabbitMQ (publisher confirms; durable = persistent)", true,
       &create_messaging},
      {"messaging", "nats", "one-way messages through core NATS (no broker ack, may drop); durable = JetStream", true,
       &create_messaging},
  };
  return paths;
}

}  // namespace

std::span<const PathInfo> path_registry() { return table(); }

std::span<const PathInfo> routes_of(std::string_view kind) noexcept {
  auto& paths = table();
  auto first = std::find_if(paths.begin(), paths.end(), [&](const PathInfo& p) { return p.kind == kind; });
  auto last = std::find_if(first, paths.end(), [&](const PathInfo& p) { return p.kind != kind; });
  return {first, last};
}

const PathInfo* find_route(std::string_view kind, std::string_view via) noexcept {
  auto routes = routes_of(kind);
  if (routes.empty()) return nullptr;
  if (via.empty()) return &routes.front();
  auto it = std::find_if(routes.begin(), routes.end(), [&](const PathInfo& p) { return p.via == via; });
  return it == routes.end() ? nullptr : &*it;
}

PathKinds path_kinds() {
  static const std::vector<PathKind> kinds = [] {
    std::vector<PathKind> out;
    for (auto& p : table()) {
      if (out.empty() || out.back().kind != p.kind) out.push_back({p.kind, {}});
      out.back().vias.push_back(p.via);
    }
    return out;
  }();
  return kinds;
}

Scenario load_scenario_file(const std::filesystem::path& file) { return load_scenario_file(file, path_kinds()); }

Scenario load_scenario_text(std::string_view toml_text, const std::string& source_name) {
  return load_scenario_text(toml_text, source_name, path_kinds());
}

}  // namespace pathbench
