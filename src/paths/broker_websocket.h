// The broker path (kind "broker"), via = "websocket": publish -> consume through
// the WebSocket front: messages on /ws/publish, "next" on /ws/consume (polling an empty queue);
// `producers` publish and `consumers` consume connections per client thread (one each by default).
// Shared pieces: paths/broker_client_base.h.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;
std::unique_ptr<PathInstance> create_broker_websocket(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
