// Path `grpc_stream`: requests as messages on long-lived bidirectional
// pathbench.v1.Worker/QueryStream streams (`streams` per channel, `connections` channels per
// client thread), many in flight per stream, replies matched by request id. Through the
// balancer (default) or direct to the workers.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;
std::unique_ptr<PathInstance> create_grpc_stream(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
