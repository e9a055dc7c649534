#include "net/grpc_server.h"

#include <fmt/format.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

#include "core/host_port.h"
#include "net/grpc_credentials.h"
#include "net/tls_policy.h"

namespace pathbench::net {

GrpcServer::GrpcServer(const GrpcServerOptions& options, std::vector<GrpcService> services)
    : services_(std::move(services)) {
  const auto cannot_listen = [&] { return std::runtime_error(fmt::format("{}: cannot listen on {}", options.what, options.listen)); };
  const auto listen = parse_host_port(options.listen, /*allow_port_zero=*/true);
  if (!listen) throw cannot_listen();
  check_listen_security(options.what, options.listen, options.tls != nullptr);
  // Both are process-wide switches that only affect servers built after them; turning them on
  // again for each server is harmless.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc_server_credentials(options.tls.get()), &port_);
  // gRPC sets SO_REUSEPORT by default, which would let a second server "listen" on a port that
  // is already taken and silently split its traffic; a busy port must be an error.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (options.max_receive_message_bytes >= 0)
    builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<std::int64_t>(options.max_receive_message_bytes, INT_MAX)));
  for (const auto& s : services_) builder.RegisterService(s.service);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    if (server_) server_->Shutdown();
    throw cannot_listen();
  }
  address_ = HostPort{listen->host, static_cast<std::uint16_t>(port_)}.to_string();
  set_serving(true);
}

GrpcServer::~GrpcServer() { shutdown(std::chrono::system_clock::now()); }

void GrpcServer::set_serving(bool serving) {
  auto* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  if (!serving) return health->SetServingStatus(false);  // every service, "" included
  health->SetServingStatus("", true);
  for (const auto& s : services_) health->SetServingStatus(s.name, true);
}

void GrpcServer::shutdown(std::chrono::system_clock::time_point deadline) {
  std::lock_guard lock(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  server_->Shutdown(deadline);
}

}  // namespace pathbench::net
