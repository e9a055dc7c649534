// The worker's WebSocket front (ws://host:port/query, "/" too): each binary message is one
// serialized QueryRequest (deadline: its timeout_ns from arrival), answered by one QueryReply
// with the same request_id and a status, in completion order; many in flight per connection.
// A text frame or bytes that are not a QueryRequest close the connection with 1002. Runs on
// the net::WsServer's io thread; answers are handed to the connection from the SQL threads.
#pragma once
#include <memory>
#include <string_view>

#include "net/websocket.h"

namespace pathbench {

class QueryEngine;

// `engine` must outlive the front, and the front the WsServer that calls it.
class WorkerWsFront final : public net::WsHandler {
 public:
  explicit WorkerWsFront(QueryEngine& engine) : engine_(engine) {}
  bool accepts(std::string_view target) const override;
  // On the WsServer's io thread; the answer comes back through the engine (any thread).
  void on_message(const std::shared_ptr<net::WsChannel>& channel, std::string_view payload, bool binary) override;

 private:
  QueryEngine& engine_;
};

}  // namespace pathbench
