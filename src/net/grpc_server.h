// One way to build and start a gRPC server (callback API) for every role that serves gRPC: the
// worker, the balancer and the broker's MessageQueue front. Every server built here serves the
// standard grpc.health.v1.Health service (gRPC's default health service, proto/grpc/health/v1)
// and server reflection next to the caller's services; the health status is SERVING for ""
// and for each registered service name from the moment the constructor returns.
//
// Listening: "host:port" (core/host_port.h; an IPv6 host in brackets), port 0 = a free port,
// reported by address()/port(). SO_REUSEPORT is off, so a port already in use is an error
// rather than a second server silently splitting its traffic.
//
// Thread-safety: set_serving() and shutdown() may be called from any thread; shutdown() is
// idempotent and returns once every call has finished (gRPC cancels what is still running at the
// deadline). The destructor shuts down with no grace if shutdown() was not called. The services
// must outlive the GrpcServer.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/tls_config.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace pathbench::net {

struct GrpcServerOptions {
  std::string listen = "127.0.0.1:0";      // host:port; port 0 = a free port
  std::string what = "gRPC server";        // names the server in errors: "worker worker-3"
  std::int64_t max_receive_message_bytes = -1;  // < 0: gRPC's default (4 MiB); larger requests get RESOURCE_EXHAUSTED
  // Mutual TLS (net/grpc_credentials.h); nullptr = plaintext, which a non-loopback `listen`
  // refuses (net/tls_policy.h: PlaintextRefused) unless plaintext was allowed.
  std::shared_ptr<const TlsMaterial> tls;
};

// A service to register, with the name its health status is reported under
// ("pathbench.v1.Worker", as in grpc.health.v1.HealthCheckRequest.service).
struct GrpcService {
  grpc::Service* service = nullptr;
  std::string name;
};

class GrpcServer {
 public:
  // Builds and starts the server; throws std::runtime_error "<what>: cannot listen on <listen>"
  // when the address is not host:port or cannot be bound.
  GrpcServer(const GrpcServerOptions& options, std::vector<GrpcService> services);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // "127.0.0.1:40123": the listen host with the port gRPC chose.
  const std::string& address() const noexcept { return address_; }
  int port() const noexcept { return port_; }

  // Health status of "" and every registered service: SERVING or NOT_SERVING.
  void set_serving(bool serving);
  // grpc::Server::Shutdown with this deadline; idempotent (later calls return at once).
  void shutdown(std::chrono::system_clock::time_point deadline);

  grpc::Server& server() noexcept { return *server_; }

 private:
  std::vector<GrpcService> services_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  int port_ = 0;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // under shutdown_mu_
};

}  // namespace pathbench::net
