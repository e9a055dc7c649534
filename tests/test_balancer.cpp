// The balancer over real gRPC with real workers: routing, ejection of a dead worker,
// re-admission by health checks, admission control, and "all workers down" answered fast.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <future>
#include <set>
#include <thread>

#include "db/seeder.h"
#include "pathbench.grpc.pb.h"
#include "roles/balancer.h"
#include "roles/worker.h"
#include "test_helpers.h"

using namespace pathbench;

namespace {

const std::filesystem::path& balancer_db() {
  static testing::TempDir dir;
  static const std::filesystem::path path = [] {
    auto p = dir / "balancer.db";
    seed_database({p, 5'000, 3, false});
    return p;
  }();
  return path;
}

std::unique_ptr<WorkerServer> start_worker(int index, const std::string& listen = "127.0.0.1:0") {
  WorkerOptions o;
  o.id = fmt::format("w{}", index);
  o.listen = listen;
  o.db_path = balancer_db();
  o.threads = 1;
  return std::make_unique<WorkerServer>(o);
}

BalancerOptions fast_balancer(const std::vector<std::string>& workers) {
  BalancerOptions o;
  o.workers = workers;
  o.health_interval_ns = 100 * kNanosPerMilli;
  o.health_timeout_ns = 100 * kNanosPerMilli;
  o.routing.base_ejection_ns = 5 * kNanosPerSecond;  // re-admission must come from health checks
  return o;
}

grpc::Status call(v1::Worker::Stub& stub, v1::QueryReply& reply, Nanos deadline = 2 * kNanosPerSecond,
                  v1::QueryKind kind = v1::QUERY_KIND_POINT) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::nanoseconds(deadline));
  v1::QueryRequest request;
  request.set_kind(kind);
  request.set_sale_id(42);
  request.set_request_id(7);
  return stub.Query(&context, request, &reply);
}

std::unique_ptr<v1::Worker::Stub> stub_for(const std::string& address) {
  return v1::Worker::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

}  // namespace

TEST_CASE("balancer: forwards to every worker, adds its own time, and spreads load") {
  std::vector<std::unique_ptr<WorkerServer>> workers;
  std::vector<std::string> addresses;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(start_worker(i));
    addresses.push_back(workers.back()->address());
  }
  BalancerServer balancer(fast_balancer(addresses));
  auto stub = stub_for(balancer.address());
  for (int i = 0; i < 60; ++i) {
    v1::QueryReply reply;
    auto status = call(*stub, reply);
    REQUIRE(status.ok());
    CHECK(reply.count() == 1);
    CHECK(reply.request_id() == 7);
    CHECK(reply.balancer_ns() >= reply.worker_total_ns());
    CHECK(reply.worker_id().size() > 0);
  }
  auto stats = balancer.stats();
  CHECK(stats.received == 60);
  REQUIRE(stats.backends.size() == 3);
  for (auto& b : stats.backends) {
    CHECK(b.routed == 20);  // one at a time: least outstanding takes turns exactly
    CHECK(b.in_flight == 0);
  }
}

TEST_CASE("balancer: a dead worker is ejected at once, nothing fails, and it is re-admitted when back") {
  std::vector<std::unique_ptr<WorkerServer>> workers;
  std::vector<std::string> addresses;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(start_worker(i));
    addresses.push_back(workers.back()->address());
  }
  BalancerServer balancer(fast_balancer(addresses));
  auto stub = stub_for(balancer.address());
  v1::QueryReply reply;
  for (int i = 0; i < 9; ++i) REQUIRE(call(*stub, reply).ok());

  workers[1].reset();  // kill worker 1
  int failed = 0;
  for (int i = 0; i < 60; ++i) failed += call(*stub, reply).ok() ? 0 : 1;
  CHECK(failed == 0);  // the balancer retried the unreachable worker's requests elsewhere
  auto stats = balancer.stats();
  CHECK(stats.backends[1].ejected);
  CHECK(stats.backends[1].ejections >= 1);
  std::uint64_t routed_while_dead = stats.backends[1].routed;

  // Bring it back on the same port: health checks (every 100 ms, 2 passes) re-admit it.
  workers[1] = start_worker(1, addresses[1]);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  for (int i = 0; i < 30; ++i) REQUIRE(call(*stub, reply).ok());
  stats = balancer.stats();
  CHECK_FALSE(stats.backends[1].ejected);
  CHECK(stats.backends[1].routed > routed_while_dead);
}

TEST_CASE("balancer: with every worker down, clients get UNAVAILABLE within a second") {
  auto worker = start_worker(0);
  BalancerServer balancer(fast_balancer({worker->address()}));
  auto stub = stub_for(balancer.address());
  v1::QueryReply reply;
  REQUIRE(call(*stub, reply).ok());
  worker.reset();
  for (int i = 0; i < 5; ++i) {
    Nanos t0 = now_ns();
    auto status = call(*stub, reply, 5 * kNanosPerSecond);
    CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(now_ns() - t0 < kNanosPerSecond);
  }
  CHECK(balancer.stats().unavailable >= 4);
}

TEST_CASE("balancer: beyond max_pending, requests get RESOURCE_EXHAUSTED at once") {
  auto worker = start_worker(0);
  worker->set_added_delay(300 * kNanosPerMilli);
  auto o = fast_balancer({worker->address()});
  o.routing.max_pending = 2;
  BalancerServer balancer(o);
  auto stub = stub_for(balancer.address());
  std::vector<std::future<grpc::StatusCode>> calls;
  for (int i = 0; i < 2; ++i)
    calls.push_back(std::async(std::launch::async, [&] {
      v1::QueryReply r;
      return call(*stub, r).error_code();
    }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  v1::QueryReply reply;
  Nanos t0 = now_ns();
  CHECK(call(*stub, reply).error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Refused at once, not queued behind the 300 ms replies (those come 200 ms from now).
  CHECK(now_ns() - t0 < 150 * kNanosPerMilli);
  for (auto& c : calls) CHECK(c.get() == grpc::StatusCode::OK);
  CHECK(balancer.stats().rejected == 1);
}

TEST_CASE("balancer: streams are multiplexed to the workers and answered by request id") {
  std::vector<std::unique_ptr<WorkerServer>> workers;
  std::vector<std::string> addresses;
  for (int i = 0; i < 2; ++i) {
    workers.push_back(start_worker(i));
    addresses.push_back(workers.back()->address());
  }
  BalancerServer balancer(fast_balancer(addresses));
  auto stub = stub_for(balancer.address());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stream = stub->QueryStream(&context);
  for (std::uint64_t id = 1; id <= 50; ++id) {
    v1::QueryRequest r;
    r.set_request_id(id);
    r.set_kind(id % 5 == 0 ? v1::QUERY_KIND_HEAVY : v1::QUERY_KIND_POINT);
    r.set_sale_id(static_cast<std::int64_t>(id));
    // id % 5 == 0: a heavy query with a bad window, answered with a per-request error
    r.set_minute_from(100);
    r.set_minute_to(50);
    r.set_from_epoch_s(1'704'067'200);
    r.set_to_epoch_s(1'706'745'600);
    r.set_category_id(1);
    REQUIRE(stream->Write(r));
  }
  stream->WritesDone();
  std::set<std::uint64_t> seen;
  int errors = 0;
  v1::QueryReply reply;
  while (stream->Read(&reply)) {
    seen.insert(reply.request_id());
    if (reply.status().code() != 0) {
      ++errors;
      CHECK(reply.status().code() == static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
    } else {
      CHECK(reply.count() == 1);
      CHECK(reply.balancer_ns() > 0);
    }
  }
  CHECK(stream->Finish().ok());
  CHECK(seen.size() == 50);
  CHECK(errors == 10);
  auto stats = balancer.stats();
  CHECK(stats.backends[0].routed + stats.backends[1].routed == 50);
  CHECK(stats.backends[0].routed > 0);
  CHECK(stats.backends[1].routed > 0);
}
