// The broker path (kind "broker"), via = "native": publish -> consume through
// the native protocol (docs/broker-protocol.md) over one TCP connection: declare, consume with credit, publish with confirms.
// Shared pieces: paths/broker_client_base.h.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;
std::unique_ptr<PathInstance> create_broker_native(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
