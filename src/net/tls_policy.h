// The process's TLS settings as its command set them once, before any server or channel exists
// (cli/serve, cli/agent: --insecure and --tls-*; cli/run: the scenario's [tls]):
//  - whether plaintext listeners may bind a non-loopback address (`--insecure`); every listener
//    (net/listener: echo, WebSocket/HTTP, native broker, /metrics) and every gRPC server
//    (net/grpc_server) asks check_listen_security() before binding, so none can skip the rule;
//  - the client identity the load's gRPC channels present (paths, dataset shape, agents'
//    control channels): nullptr = plaintext.
// Thread-safety: setters before any server/channel is made; readers from any thread.
#pragma once
#include <memory>
#include <stdexcept>
#include <string_view>

#include "core/tls_config.h"

namespace pathbench::net {

// Thrown by check_listen_security; the commands exit 2 on it (bad input, nothing started).
class PlaintextRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void set_plaintext_off_loopback_allowed(bool allowed) noexcept;
bool plaintext_off_loopback_allowed() noexcept;

// core/tls_config.h's plaintext_listen_refusal with the process's setting: throws
// PlaintextRefused when refused; prints its WARNING line on stderr when allowed off loopback.
void check_listen_security(std::string_view what, std::string_view listen, bool tls);

void set_client_tls(std::shared_ptr<const TlsMaterial> tls);
std::shared_ptr<const TlsMaterial> client_tls();

}  // namespace pathbench::net
