// Path `websocket`: each request is one binary WebSocket message (a serialized
// pathbench.v1.QueryRequest with the load generator's (slot, id) as request_id and the
// scenario's deadline as timeout_ns), answered by one QueryReply carrying a status; many in
// flight per connection, `connections` connections per client thread. Through the balancer's
// WebSocket front (default) or direct to the workers'. A connection that breaks fails what was
// on it (transport_error) and is re-established with backoff; the run ends with clean closes.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;
std::unique_ptr<PathInstance> create_websocket(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
