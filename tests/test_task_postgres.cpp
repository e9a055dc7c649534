// The task path's faults on PostgreSQL, as tests/test_task.cpp has them on SQLite: a worker
// killed while its task is `processing` leaves it so; after the lease another worker finishes it;
// a worker killed mid-run loses no task (lease reclaim and redelivery, lost = 0); and
// [database] durability as the task store's session sees it. Doctest suite "postgres" (ctest
// tier postgres), skipped with the reason when Debian's postgresql is not installed.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "db/durability.h"
#include "db/seeder.h"
#include "db/task_store_open.h"
#include "mq/server_process.h"
#include "pathbench.grpc.pb.h"
#include "paths/registry.h"
#include "roles/task_engine.h"
#include "roles/worker.h"
#include "runner/database.h"
#include "runner/runner.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::testing;

namespace {

std::string postgres_missing() {
  std::error_code ec;
  for (auto& v : std::filesystem::directory_iterator("/usr/lib/postgresql", ec))
    if (::access((v.path() / "bin" / "postgres").c_str(), X_OK) == 0 && ::access((v.path() / "bin" / "initdb").c_str(), X_OK) == 0)
      return "";
  return "PostgreSQL is not installed (Debian package postgresql; scripts/install-deps.sh --test)";
}

#define PATHBENCH_SKIP_UNLESS_POSTGRES_SERVER()           \
  do {                                                    \
    const std::string skip_reason_ = postgres_missing(); \
    if (!skip_reason_.empty()) {                          \
      MESSAGE("SKIP: ", skip_reason_);                    \
      return;                                             \
    }                                                     \
  } while (false)

std::int64_t unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_SUITE_BEGIN("postgres");

TEST_CASE("postgres: task durability as the store's session sees it (SHOW synchronous_commit)") {
  PATHBENCH_SKIP_UNLESS_POSTGRES_SERVER();
  mq::BrokerOptions options;
  options.server_args = postgres_durability_args("full");
  mq::BrokerProcess server = mq::BrokerProcess::start("postgres", options);
  CHECK(open_postgres_task_store(server.url())->durability_in_effect() == "fsync=on synchronous_commit=on");
  // A server pathbench did not start: normal and off are a session setting in the URL.
  CHECK(open_postgres_task_store(postgres_session_url(server.url(), "normal"))->durability_in_effect() ==
        "fsync=on synchronous_commit=off");
  // The location keeps a postgresql:// URL as it is (its durability is in the URL or the server).
  const TaskStoreLocation where = task_store_location(server.url(), 100, "off");
  CHECK(where.backend == "postgres");
  CHECK(open_task_store(where)->durability_in_effect() == "fsync=on synchronous_commit=on");
  server.stop();
  mq::BrokerOptions off;
  off.server_args = postgres_durability_args("off");
  mq::BrokerProcess fast = mq::BrokerProcess::start("postgres", off);
  CHECK(open_postgres_task_store(fast.url())->durability_in_effect() == "fsync=off synchronous_commit=off");
}

TEST_CASE("postgres: a killed worker leaves its task processing; after the lease another worker finishes it") {
  PATHBENCH_SKIP_UNLESS_POSTGRES_SERVER();
  mq::BrokerProcess server = mq::BrokerProcess::start("postgres", {});
  seed_postgres({server.url(), 1000, 42, false});  // a worker serves only a seeded catalog
  auto store = open_postgres_task_store(server.url());
  const std::string run = "kill";
  store->insert_received(7, run, "cpu", "p", unix_us());

  v1::TaskRequest request;
  request.set_request_id(1);
  request.set_task_id(7);
  request.set_run_id(run);
  request.set_type(v1::TASK_TYPE_CPU);
  request.set_cpu_us(20'000'000);  // far longer than the test: it is running when the worker dies
  request.set_lease_ns(300 * kNanosPerMilli);

  WorkerOptions a;
  a.id = "worker-a";
  a.db_path = server.url();
  a.threads = 1;
  a.ws_listen = "";
  auto worker_a = std::make_unique<WorkerServer>(a);
  auto stub_a = v1::Worker::NewStub(grpc::CreateChannel(worker_a->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context_a;
  context_a.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::TaskReply reply_a;
  std::atomic<bool> done_a{false};
  grpc::Status status_a;
  stub_a->async()->Task(&context_a, &request, &reply_a, [&](grpc::Status s) {
    status_a = std::move(s);
    done_a = true;
  });
  for (int i = 0; i < 500 && store->audit(run).processing == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(store->audit(run).processing == 1);
  worker_a->drain(0);  // killed: no grace
  for (int i = 0; i < 500 && !done_a; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(done_a);
  CHECK_FALSE(status_a.ok());
  CHECK(worker_a->task_stats().abandoned == 1);
  worker_a.reset();
  CHECK(store->audit(run).processing == 1);  // as after a crash: nothing more was written

  WorkerOptions b = a;
  b.id = "worker-b";
  WorkerServer worker_b(b);
  auto stub_b = v1::Worker::NewStub(grpc::CreateChannel(worker_b.address(), grpc::InsecureChannelCredentials()));
  request.set_cpu_us(1000);
  {
    grpc::ClientContext context;
    v1::TaskReply reply;
    CHECK(stub_b->Task(&context, request, &reply).error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  CHECK(store->reclaim_expired(run, unix_us()) == 1);
  grpc::ClientContext context;
  v1::TaskReply reply;
  REQUIRE(stub_b->Task(&context, request, &reply).ok());
  CHECK(reply.worker_id() == "worker-b");
  const TaskCounts counts = store->audit(run);
  CHECK(counts.done == 1);
  CHECK(counts.total() == 1);
}

TEST_CASE("postgres: task path, a worker killed mid-run loses no task (lease reclaim and redelivery)") {
  PATHBENCH_SKIP_UNLESS_POSTGRES_SERVER();
  TempDir dir;
  Scenario s = load_scenario_text(R"(
name = "pg-tasks"
[load]
mode = "open"
rate_per_s = 100
concurrency = 128
duration = "3s"
warmup = "0s"
deadline = "1s"
[database]
kind = "postgres"
url = "auto"
durability = "off"
sales = 3000
[query]
mix = { point = 1 }
[workers]
count = 2
threads = 1
[balancer]
health_interval = "100ms"
health_timeout = "100ms"
[task]
mix = { cpu = 1, write = 1 }
cpu_us = 5000
lease = "300ms"
[[fault]]
at = "1s"
action = "kill_worker"
target = 1
[[path]]
kind = "task"
via = "balancer"
)",
                                  "pg-tasks.toml");
  auto database = prepare_database(s, {});
  REQUIRE(database->server() != nullptr);
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  REQUIRE(r.paths.size() == 1);
  auto& p = r.paths[0];
  CHECK(p.failure.empty());
  REQUIRE(p.tasks.has_value());
  const TaskAudit& a = *p.tasks;
  CAPTURE(a.error);
  CHECK(a.error.empty());
  CHECK(a.store.find("postgresql://") == 0);
  CHECK(a.issued > 200);
  CHECK(a.lost == 0);
  CHECK(a.processing == 0);
  CHECK(a.received == 0);
  CHECK(a.done + a.failed == a.issued);
  CHECK(a.requests_ok <= a.done);
  CHECK(p.accounting_holds());
}

TEST_SUITE_END();
