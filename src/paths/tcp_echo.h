// Path `tcp_echo`: raw TCP ping-pong against an in-process echo server on loopback, no query.
// The floor every other path is measured against.
//
// Wire: fixed-size messages of spec.message_bytes (>= 16): u32 length, u32 slot, u64 request
// id (little endian), then padding. The server echoes bytes, so replies come back in order
// and carry their own ids; many requests may be in flight per connection.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;

std::unique_ptr<PathInstance> create_tcp_echo(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
