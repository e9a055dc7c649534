// Path `grpc_unary`: one unary pathbench.v1.Worker/Query call per request, through the
// balancer (via = "balancer", default) or straight to the workers (via = "direct", channels
// spread over the workers). `connections` channels per client thread, each its own TCP
// connection; the callback API carries any number of calls in flight per channel.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;
std::unique_ptr<PathInstance> create_grpc_unary(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
