// net/grpc_server: every gRPC server of pathbench serves grpc.health.v1 (SERVING for "" and its
// services) next to its own services, reports the port it chose, and refuses a busy port.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <stdexcept>
#include <string>

#include "broker/broker_server.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "messagequeue.grpc.pb.h"
#include "net/grpc_server.h"
#include "pathbench.grpc.pb.h"

using namespace pathbench;

namespace {

using grpc::health::v1::HealthCheckResponse;

// The health status of `service` at `address`, or UNKNOWN with the call's error code.
std::pair<HealthCheckResponse::ServingStatus, grpc::StatusCode> health_of(const std::string& address,
                                                                          const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  return {status.ok() ? response.status() : HealthCheckResponse::UNKNOWN, status.error_code()};
}

}  // namespace

TEST_CASE("broker gRPC front: answers grpc.health.v1 Check with SERVING") {
  broker::BrokerServerOptions o;
  o.grpc_listen = "127.0.0.1:0";
  broker::BrokerServer server(o);
  CHECK(health_of(server.grpc_address(), "").first == HealthCheckResponse::SERVING);
  CHECK(health_of(server.grpc_address(), "pathbench.broker.v1.MessageQueue").first == HealthCheckResponse::SERVING);
  CHECK(health_of(server.grpc_address(), "no.such.Service").second == grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("grpc server: chosen port, health follows set_serving, a busy port is an error") {
  v1::Worker::CallbackService unused;  // any service will do: it is only registered
  net::GrpcServerOptions o;
  o.listen = "127.0.0.1:0";
  o.what = "test server";
  net::GrpcServer server(o, {{&unused, "test.Service"}});
  REQUIRE(server.port() > 0);
  CHECK(server.address() == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(health_of(server.address(), "test.Service").first == HealthCheckResponse::SERVING);
  server.set_serving(false);
  CHECK(health_of(server.address(), "").first == HealthCheckResponse::NOT_SERVING);
  CHECK(health_of(server.address(), "test.Service").first == HealthCheckResponse::NOT_SERVING);

  net::GrpcServerOptions busy = o;
  busy.listen = server.address();
  CHECK_THROWS_WITH_AS(net::GrpcServer(busy, {}), ("test server: cannot listen on " + server.address()).c_str(),
                       std::runtime_error);
  busy.listen = "no port";
  CHECK_THROWS_AS(net::GrpcServer(busy, {}), std::runtime_error);
  server.shutdown(std::chrono::system_clock::now());
  server.shutdown(std::chrono::system_clock::now());  // idempotent
}
