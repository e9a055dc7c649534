// The broker path (kind "broker"), via = "grpc_stream": publish -> consume through
// the gRPC MessageQueue front's StreamMessages stream: each message out is answered with the queue's head.
// Shared pieces: paths/broker_client_base.h.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;
std::unique_ptr<PathInstance> create_broker_grpc_stream(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
