// The broker path (kind "broker"), via = "grpc_unary": publish -> consume through
// the gRPC MessageQueue front's unary calls: Produce per request, Consume to take it back (polling an empty queue).
// Shared pieces: paths/broker_client_base.h.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;
std::unique_ptr<PathInstance> create_broker_grpc_unary(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
