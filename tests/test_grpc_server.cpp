// net/grpc_server: every gRPC server of pathbench serves grpc.health.v1 (SERVING for "" and its
// services) next to its own services, reports the port it chose, and refuses a busy port;
// net/grpc_bidi_client: the one client bidi stream (queued writes from any thread, continuous reads, the hold).
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "broker/broker_server.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "messagequeue.grpc.pb.h"
#include "net/grpc_bidi_client.h"
#include "net/grpc_server.h"
#include "pathbench.grpc.pb.h"
#include "roles/worker.h"

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

namespace {

// Test events: count replies (by request id) and remember the end.
struct CountingEvents {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::set<std::uint64_t> ids;
    bool done = false;
    grpc::StatusCode code = grpc::StatusCode::OK;
  };
  State* state;
  void on_reply(v1::QueryReply& reply) {
    std::lock_guard lock(state->mu);
    state->ids.insert(reply.request_id());
    state->cv.notify_all();
  }
  void on_done(const grpc::Status& status) {
    std::lock_guard lock(state->mu);
    state->done = true;
    state->code = status.error_code();
    state->cv.notify_all();
  }
};

}  // namespace

TEST_CASE("grpc bidi client: writes from several threads are all sent and answered, and after the end write() refuses") {
  WorkerOptions o;
  o.id = "worker-bidi";
  o.ws_listen.clear();  // echo only: no database, no WebSocket front
  WorkerServer worker(o);
  auto stub = v1::Worker::NewStub(grpc::CreateChannel(worker.address(), grpc::InsecureChannelCredentials()));
  CountingEvents::State state;
  using Client = net::GrpcBidiClient<v1::QueryRequest, v1::QueryReply, CountingEvents>;
  auto client = std::make_unique<Client>(CountingEvents{&state});
  client->begin([&](grpc::ClientContext* c, Client* r) { stub->async()->QueryStream(c, r); });

  constexpr int kThreads = 4, kPerThread = 500;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::uint64_t id = static_cast<std::uint64_t>(t * kPerThread + i + 1);
        CHECK(client->write([&](v1::QueryRequest& r) {
          r.set_kind(v1::QUERY_KIND_ECHO);
          r.set_request_id(id);
        }));
      }
    });
  for (auto& w : writers) w.join();
  {
    std::unique_lock lock(state.mu);
    CHECK(state.cv.wait_for(lock, std::chrono::seconds(10), [&] { return state.ids.size() == kThreads * kPerThread; }));
    CHECK(*state.ids.begin() == 1);
    CHECK(*state.ids.rbegin() == kThreads * kPerThread);
  }
  CHECK(client->open());
  client->cancel();
  {
    std::unique_lock lock(state.mu);
    CHECK(state.cv.wait_for(lock, std::chrono::seconds(10), [&] { return state.done; }));
    CHECK(state.code == grpc::StatusCode::CANCELLED);
  }
  CHECK(client->finished());
  CHECK_FALSE(client->open());
  CHECK_FALSE(client->write([](v1::QueryRequest&) { FAIL("fill called on a finished stream"); }));
}
