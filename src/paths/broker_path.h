// The broker workload as a path (issue 5 §5): each request publishes one message through one of
// the embedded broker's fronts and completes when that message comes back out, consumed by the
// same client thread through the same front — so latency is publish -> consume end to end,
// achieved rate = consume rate, offered = publish rate. A refused publish (overflow) completes
// as `rejected`. via: native (default), grpc_unary, grpc_stream, websocket, http. See
// src/paths/broker_path.cpp for each front's loop and docs/broker-fronts.md for the wire.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;
std::unique_ptr<PathInstance> create_broker_path(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
