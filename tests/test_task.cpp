// The task path (seed 003): the SQLite TaskStore's lifecycle, the worker's Task RPC under a kill
// (its task stays `processing`, the lease reclaim hands it to another worker), and end-to-end runs
// with a killed worker and with the tasks database locked by another writer: the audit loses
// nothing and the run ends on time.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <sqlite3.h>

#include <chrono>
#include <thread>

#include "db/seeder.h"
#include "db/task_store_open.h"
#include "pathbench.grpc.pb.h"
#include "roles/task_engine.h"
#include "roles/worker.h"
#include "runner/runner.h"
#include "paths/registry.h"
#include "scenario/loader.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::testing;

namespace {

std::int64_t unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Holds the write lock of `file` (as another program's writer would) from construction to release().
class WriteLock {
 public:
  explicit WriteLock(const std::filesystem::path& file) {
    REQUIRE(sqlite3_open(file.c_str(), &db_) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
    REQUIRE(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  }
  void release() {
    if (!db_) return;
    sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
    db_ = nullptr;
  }
  ~WriteLock() { release(); }

 private:
  sqlite3* db_ = nullptr;
};

Scenario task_scenario(const TempDir& dir, const std::string& via, const std::string& extra) {
  return load_scenario_text(fmt::format(R"(
name = "tasks"
[load]
mode = "open"
rate_per_s = 100
concurrency = 128
duration = "3s"
warmup = "0s"
deadline = "1s"
[database]
path = "{}"
sales = 3000
[query]
mix = {{ point = 1 }}
[workers]
count = 2
threads = 1
[balancer]
health_interval = "100ms"
health_timeout = "100ms"
{}
[[path]]
kind = "task"
via = "{}"
)",
                                        (dir / "sales.db").string(), extra, via),
                            "tasks.toml");
}

std::int64_t outcomes(const PathRunResult& p, Outcome o) {
  std::int64_t n = 0;
  for (auto& ph : p.phases) n += ph.count(o);
  return n;
}

}  // namespace

TEST_CASE("task store: SQLite lifecycle, reclaim, audit, a busy database and an unknown backend") {
  TempDir dir;
  const auto file = tasks_file_for(dir / "sales.db");
  CHECK(file == dir / "sales.tasks.db");
  auto store = open_task_store({"sqlite", file, 100});
  const std::string run = "r1";
  store->insert_received(1, run, "cpu", "payload", unix_us());
  store->insert_received(2, run, "write", "payload", unix_us());
  CHECK_THROWS_AS(store->insert_received(1, run, "cpu", "again", unix_us()), TaskStoreError);  // same key
  const std::int64_t now = unix_us();
  CHECK(store->claim(1, run, "w0", now, now + 60'000'000));
  CHECK_FALSE(store->claim(1, run, "w1", now, now + 60'000'000));  // held by w0's lease
  CHECK_FALSE(store->claim(99, run, "w1", now, now + 1));          // no such task
  store->write_batch(1, run, 5);
  store->finish(1, run, TaskState::done, unix_us());
  CHECK_THROWS_AS(store->finish(1, run, TaskState::done, unix_us()), TaskStoreError);  // not processing
  CHECK(store->claim(2, run, "w0", now, now + 1));  // a lease that is already over
  TaskCounts c = store->audit(run);
  CHECK(c.done == 1);
  CHECK(c.processing == 1);
  CHECK(c.total() == 2);
  CHECK(store->reclaim_expired(run, now + 2) == 1);
  CHECK(store->audit(run).received == 1);
  CHECK(store->claim(2, run, "w1", now + 3, now + 60'000'000));  // reclaimed: claimable again
  CHECK(store->audit("another run").total() == 0);
  CHECK(std::string(task_state_name(TaskState::processing)) == "processing");

  {
    WriteLock lock(file);
    const Nanos t0 = now_ns();
    CHECK_THROWS_AS(store->insert_received(3, run, "cpu", "p", unix_us()), TaskStoreBusy);
    const Nanos waited = now_ns() - t0;
    CHECK(waited >= 90 * kNanosPerMilli);  // the busy timeout, not an immediate failure
    CHECK(store->audit(run).total() == 2);  // readers are not blocked (WAL)
  }
  store->insert_received(3, run, "cpu", "p", unix_us());  // the lock is gone

  try {
    open_task_store({"oracle", file, 100});
    FAIL("an unknown backend was accepted");
  } catch (const TaskStoreError& e) {
    CHECK(std::string(e.what()).find("'oracle'") != std::string::npos);
  }
}

TEST_CASE("task engine: a killed worker leaves its task processing; after the lease another worker finishes it") {
  TempDir dir;
  seed_database({dir / "sales.db", 1000, 42, false});
  const auto file = tasks_file_for(dir / "sales.db");
  auto store = open_task_store({"sqlite", file, 1000});
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
  a.db_path = dir / "sales.db";
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
  CHECK(worker_a->task_stats().in_processing == 1);
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
    // Still under worker-a's lease: not claimable.
    CHECK(stub_b->Task(&context, request, &reply).error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  CHECK(store->reclaim_expired(run, unix_us()) == 1);
  grpc::ClientContext context;
  v1::TaskReply reply;
  grpc::Status status = stub_b->Task(&context, request, &reply);
  REQUIRE(status.ok());
  CHECK(reply.worker_id() == "worker-b");
  CHECK(reply.finished_unix_us() > 0);
  CHECK(store->audit(run).done == 1);
  auto stats = worker_b.task_stats();
  CHECK(stats.by_type[1].completed == 1);
  CHECK(stats.not_claimable == 1);
}

TEST_CASE("task path: a worker killed mid-run loses no task (lease reclaim and redelivery), accounting intact") {
  TempDir dir;
  Scenario s = task_scenario(dir, "balancer", R"(
[task]
mix = { cpu = 1, write = 1 }
cpu_us = 5000
lease = "300ms"
[[fault]]
at = "1s"
action = "kill_worker"
target = 1
)");
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  REQUIRE(r.paths.size() == 1);
  auto& p = r.paths[0];
  CHECK(p.failure.empty());
  REQUIRE(p.tasks.has_value());
  const TaskAudit& a = *p.tasks;
  CAPTURE(a.error);
  CHECK(a.error.empty());
  CHECK(a.issued > 200);
  CHECK(a.lost == 0);
  CHECK(a.processing == 0);
  CHECK(a.received == 0);
  CHECK(a.done + a.failed == a.issued);
  CHECK(a.requests_ok <= a.done);
  CHECK(p.accounting_holds());
  REQUIRE(p.kinds.size() == 2);
  CHECK(p.kinds[0] == "cpu");
  CHECK(p.kinds[1] == "write");
  std::int64_t by_kind = 0;
  for (auto& k : p.phases.back().kinds) by_kind += k.issued;
  CHECK(by_kind == p.phases.back().issued);
}

TEST_CASE("task path: the tasks database locked by another writer mid-run: unavailable errors, the run ends on time") {
  TempDir dir;
  Scenario s = task_scenario(dir, "direct", R"(
[task]
mix = { write = 1 }
busy_timeout = "50ms"
lease = "300ms"
)");
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  std::thread locker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    WriteLock lock(tasks_file_for(s.database.path));
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
  });
  const Nanos t0 = now_ns();
  RunResult r = run_scenario(s, stop, {});
  const Nanos took = now_ns() - t0;
  locker.join();
  REQUIRE(r.paths.size() == 1);
  auto& p = r.paths[0];
  CHECK(p.failure.empty());
  CHECK(outcomes(p, Outcome::unavailable) > 0);
  REQUIRE(p.tasks.has_value());
  const TaskAudit& a = *p.tasks;
  CHECK(a.insert_busy > 0);
  CHECK(a.insert_failed == a.insert_busy);  // every failed insert failed on the lock
  CHECK(a.lost == 0);
  CHECK(a.processing == 0);
  CHECK(p.accounting_holds());
  // 3 s of load + the 1 s deadline's drain + the audit's reclaim wait (lease 300 ms) + start-up.
  CHECK(p.elapsed_ns <= 3 * kNanosPerSecond + 2 * kNanosPerSecond);
  CHECK(took <= 9 * kNanosPerSecond);
}
