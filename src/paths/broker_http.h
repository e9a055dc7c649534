// The broker path (kind "broker"), via = "http": publish -> consume through
// the HTTP front (/api/subscribe once, /api/publish — /api/publish/async with `async = true` — per
// request, /api/fetch while messages are out) over keep-alive HTTP/1.1 lanes: `producers`
// publishing and `consumers` fetching ones (one each by default).
// Shared pieces: paths/broker_client_base.h.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;
std::unique_ptr<PathInstance> create_broker_http(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
