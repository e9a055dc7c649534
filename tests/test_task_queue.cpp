// The task path's queue route (`via = "queue"`): tasks through the embedded broker's task queue
// to TaskQueueWorkers, the same audit as the gRPC routes; and a queue worker killed while its
// task is `processing`: the task is taken over after its lease (by the surviving worker's claim
// or the audit's reclaim and redelivery) and finished, lost = 0.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "broker/broker_server.h"
#include "db/seeder.h"
#include "db/task_store_open.h"
#include "mq/mq.h"
#include "pathbench.pb.h"
#include "roles/task_queue_worker.h"
#include "paths/registry.h"
#include "runner/runner.h"
#include "scenario/loader.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::testing;

namespace {

std::int64_t task_unix_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Scenario queue_task_scenario(const TempDir& dir, const std::string& extra) {
  return load_scenario_text(fmt::format(R"(
name = "task-queue"
[load]
mode = "open"
rate_per_s = {}
concurrency = 256
duration = "3s"
warmup = "0s"
deadline = "2s"
[database]
path = "{}"
sales = 3000
durability = "normal"
[query]
mix = {{ point = 1 }}
[workers]
count = 2
threads = 1
{}
[[path]]
kind = "task"
via = "queue"
)",
                                        extra.find("kill_worker") != std::string::npos ? 100 : 150,
                                        (dir / "sales.db").string(), extra),
                            "task-queue.toml");
}

std::int64_t count_rows(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  const std::int64_t n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

}  // namespace

TEST_CASE("task path via queue: tasks through the embedded broker, per-type rows, audit issued = done, lost = 0") {
  TempDir dir;
  Scenario s = queue_task_scenario(dir, R"(
[task]
mix = { query = 1, cpu = 1, write = 1 }
cpu_us = 500
)");
  ensure_database(s, {});
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  REQUIRE(r.paths.size() == 1);
  auto& p = r.paths[0];
  CHECK(p.failure.empty());
  CHECK(p.endpoint.find("queue pathbench.requests.tasks") != std::string::npos);
  REQUIRE(p.tasks.has_value());
  const TaskAudit& a = *p.tasks;
  CAPTURE(a.error);
  CHECK(a.error.empty());
  CHECK(a.issued >= 400);
  CHECK(a.issued == a.done);
  CHECK(a.lost == 0);
  CHECK(a.requests_ok == a.issued);
  CHECK(p.accounting_holds());
  REQUIRE(p.kinds.size() == 3);
  std::int64_t by_kind = 0;
  for (auto& k : p.phases.back().kinds) by_kind += k.issued;
  CHECK(by_kind == p.phases.back().issued);
  // Done by the queue workers, in the table the producers wrote.
  CHECK(count_rows(tasks_file_for(dir / "sales.db"),
                   fmt::format("SELECT count(*) FROM tasks WHERE run_id = '{}' AND worker LIKE 'task-mq-%'", a.run_id)) ==
        a.issued);
}

TEST_CASE("task path via queue: a queue worker killed mid-run (and back) loses no task, accounting intact") {
  TempDir dir;
  Scenario s = queue_task_scenario(dir, R"(
[task]
mix = { cpu = 1, write = 1 }
cpu_us = 5000
lease = "300ms"
[[fault]]
at = "1s"
action = "kill_worker"
target = 1
[[fault]]
at = "1500ms"
action = "restart_worker"
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
}

TEST_CASE("task queue worker: killed mid-task, its task stays processing; after the lease another worker finishes it") {
  TempDir dir;
  seed_database({dir / "sales.db", 1000, 42, false});
  const auto file = tasks_file_for(dir / "sales.db");
  auto store = open_task_store({"sqlite", file, 1000});
  const std::string run = "queue-kill";
  store->insert_received(7, run, "cpu", "p", task_unix_now_us());

  broker::BrokerServer broker_server({});
  mq::Endpoint endpoint;
  endpoint.kind = "embedded";
  endpoint.url = broker_server.url();
  endpoint.request_queue = task_queue_name("kill.requests");

  // A client on its own io thread; replies by correlation id.
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::mutex mu;
  std::map<std::uint64_t, v1::TaskReply> replies;
  auto requester = mq::make_requester(
      endpoint, io,
      [&](std::uint64_t id, Outcome outcome, std::string_view body) {
        v1::TaskReply reply;
        if (outcome == Outcome::ok) REQUIRE(reply.ParseFromArray(body.data(), static_cast<int>(body.size())));
        else reply.mutable_status()->set_code(-1);
        std::lock_guard lock(mu);
        replies[id] = reply;
      },
      0);
  std::thread io_thread([&] { io.run(); });
  std::promise<std::string> started;
  boost::asio::post(io, [&] { requester->start([&](std::string why) { started.set_value(why); }); });
  REQUIRE(started.get_future().get().empty());
  auto send = [&](std::uint64_t id, std::int64_t cpu_us, Nanos lease_ns) {
    v1::TaskRequest request;
    request.set_request_id(id);
    request.set_task_id(7);
    request.set_run_id(run);
    request.set_type(v1::TASK_TYPE_CPU);
    request.set_cpu_us(cpu_us);
    request.set_lease_ns(lease_ns);
    boost::asio::post(io, [&requester, id, body = request.SerializeAsString()] { requester->request(id, body); });
  };
  auto reply_of = [&](std::uint64_t id) -> std::optional<v1::TaskReply> {
    for (int i = 0; i < 1000; ++i) {
      {
        std::lock_guard lock(mu);
        if (auto it = replies.find(id); it != replies.end()) return it->second;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  };

  WorkerOptions a;
  a.id = "task-a";
  a.db_path = dir / "sales.db";
  auto worker_a = std::make_unique<TaskQueueWorker>(a, endpoint, 1);
  const Nanos lease_ns = 2 * kNanosPerSecond;
  send(1, 20'000'000, lease_ns);  // far longer than the test: it is running when the worker dies
  for (int i = 0; i < 500 && store->audit(run).processing == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(store->audit(run).processing == 1);
  CHECK(worker_a->task_stats().in_processing == 1);
  WorkerOptions b = a;
  b.id = "task-b";
  TaskQueueWorker worker_b(b, endpoint, 1);  // consuming beside a, idle
  worker_a->kill();
  CHECK(worker_a->task_stats().abandoned == 1);
  worker_a.reset();
  CHECK(store->audit(run).processing == 1);  // as after a crash: nothing more was written
  // The first request ends in an error either way: a's "shutting down", or b's "not claimable"
  // for the delivery a left unacknowledged (the lease still holds).
  auto first = reply_of(1);
  REQUIRE(first.has_value());
  CHECK(first->status().code() != 0);
  CHECK(store->audit(run).processing == 1);

  // Past the lease: reclaimed, sent again (short now), finished by b.
  std::this_thread::sleep_for(std::chrono::nanoseconds(lease_ns + 100 * kNanosPerMilli));
  CHECK(store->reclaim_expired(run, task_unix_now_us()) == 1);
  send(2, 1000, lease_ns);
  auto second = reply_of(2);
  REQUIRE(second.has_value());
  CHECK(second->status().code() == 0);
  CHECK(second->worker_id() == "task-b");
  CHECK(second->finished_unix_us() > 0);
  CHECK(store->audit(run).done == 1);
  CHECK(worker_b.task_stats().by_type[1].completed == 1);
  CHECK(count_rows(file, "SELECT attempts FROM tasks WHERE run_id = 'queue-kill' AND task_id = 7") == 2);

  boost::asio::post(io, [&] { requester->stop(); });
  guard.reset();
  io_thread.join();
}
