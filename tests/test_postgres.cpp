// PostgreSQL as the second database: the private server (mq::BrokerProcess kind "postgres"), the
// COPY seeder against the SQLite one (same seed, same rows, same answers), the migrations, the
// task store, bad input, and a server stopped mid-run. The cases that need Debian's postgresql
// are in the doctest suite "postgres" (ctest label postgres: Release round only) and are skipped
// when its programs are not installed. One shared server per test binary, started on first use.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "core/url.h"
#include "db/catalog.h"
#include "db/durability.h"
#include "db/executor.h"
#include "db/migrations.h"
#include "db/pg_connection.h"
#include "db/seeder.h"
#include "db/task_store.h"
#include "mq/server_process.h"
#include "paths/registry.h"
#include "runner/database.h"
#include "roles/worker.h"
#include "runner/runner.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::testing;

namespace {

// The reason Debian's PostgreSQL server cannot be started here, or "".
std::string missing_postgres() {
  std::error_code ec;
  for (auto& v : std::filesystem::directory_iterator("/usr/lib/postgresql", ec))
    if (::access((v.path() / "bin" / "postgres").c_str(), X_OK) == 0 && ::access((v.path() / "bin" / "initdb").c_str(), X_OK) == 0)
      return "";
  return "PostgreSQL is not installed (Debian package postgresql; scripts/install-deps.sh --test)";
}

#define PATHBENCH_SKIP_UNLESS_POSTGRES()                 \
  do {                                                   \
    const std::string skip_reason_ = missing_postgres(); \
    if (!skip_reason_.empty()) {                         \
      MESSAGE("SKIP: ", skip_reason_);                   \
      return;                                            \
    }                                                    \
  } while (false)

mq::BrokerProcess& shared_server() {
  static mq::BrokerProcess server = [] {
    mq::BrokerOptions o;
    o.server_args = postgres_durability_args("off");  // test data only
    return mq::BrokerProcess::start("postgres", o);
  }();
  return server;
}

// A fresh database on the shared server, its URL.
std::string fresh_database(const std::string& name) {
  PgConnection admin = PgConnection::open(shared_server().url());
  admin.exec(fmt::format("DROP DATABASE IF EXISTS {}", name).c_str());
  admin.exec(fmt::format("CREATE DATABASE {}", name).c_str());
  std::string url = shared_server().url();
  return url.substr(0, url.rfind('/') + 1) + name;
}

std::vector<std::string> column_texts(PgConnection& pg, const char* sql) {
  PgResult r = pg.query(sql);
  std::vector<std::string> rows;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::string row;
    for (int c = 0; c < PQnfields(r.get()); ++c) row += std::string(PQgetvalue(r.get(), i, c)) + "|";
    rows.push_back(row);
  }
  return rows;
}

std::vector<std::string> column_texts(const std::filesystem::path& file, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK);
  std::vector<std::string> rows;
  while (sqlite3_step(s) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < sqlite3_column_count(s); ++c) row += std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, c))) + "|";
    rows.push_back(row);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return rows;
}

std::string replace_password(const std::string& url, const std::string& user_info) {
  const auto at = url.find("://") + 3;
  return url.substr(0, at) + user_info + url.substr(url.find('@'));
}

}  // namespace

TEST_CASE("postgres: a missing server program is named with its Debian package") {
  TempDir empty;
  mq::BrokerOptions o;
  o.search_path = empty.path().string();
  std::string message;
  try {
    mq::BrokerProcess::start("postgres", o);
  } catch (const std::exception& e) {
    message = e.what();
  }
  CHECK(message.find("Debian package postgresql") != std::string::npos);
  CHECK(message.find("initdb") != std::string::npos);
}

TEST_CASE("postgres: URLs are checked before anything connects, passwords never shown") {
  CHECK(postgres_url_problem("postgresql://u:pw@db.example:5432/sales") == "");
  CHECK(postgres_url_problem("postgres://db.example/sales?sslmode=disable") == "");
  CHECK(postgres_url_problem("postgresql://u:pw@:5432/x") != "");
  CHECK(postgres_url_problem("postgresql://host:99999/x") != "");
  CHECK(postgres_url_problem("mysql://host/x") != "");
  CHECK(is_postgres_url("postgresql://h/x"));
  CHECK_FALSE(is_postgres_url("data/sales.db"));
  // The scenario loader refuses a bad URL with its position; what prints it redacts the password.
  std::string message;
  try {
    load_scenario_text("[database]\nkind = \"postgres\"\nurl = \"postgresql://u:s3cret@:0/x\"\n[[path]]\nkind = \"grpc_unary\"\n",
                       "bad.toml");
  } catch (const std::exception& e) {
    message = e.what();
  }
  CHECK(message.find("bad.toml:3:") != std::string::npos);
  CHECK(redact_urls(message).find("s3cret") == std::string::npos);
  CHECK(postgres_session_url("postgresql://h/x", "full") == "postgresql://h/x");
  CHECK(postgres_session_url("postgresql://h/x", "normal") == "postgresql://h/x?options=-c%20synchronous_commit%3Doff");
  CHECK(postgres_session_url("postgresql://h/x?a=b", "off") == "postgresql://h/x?a=b&options=-c%20synchronous_commit%3Doff");
}

TEST_CASE("durability: the SQLite pragmas a writer runs per [database] durability") {
  TempDir dir;
  for (auto [name, synchronous] : {std::pair{"full", 2}, std::pair{"normal", 1}, std::pair{"off", 0}}) {
    CAPTURE(name);
    const auto file = dir / fmt::format("{}.db", name);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, sqlite_durability_pragmas(name), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    // synchronous is per connection: read it on one that ran the pragmas again; WAL persists.
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    sqlite3_exec(db, sqlite_durability_pragmas(name), nullptr, nullptr, nullptr);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &s, nullptr);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    CHECK(sqlite3_column_int(s, 0) == synchronous);
    sqlite3_finalize(s);
    sqlite3_close(db);
    CHECK(column_texts(file, "PRAGMA journal_mode") == std::vector<std::string>{"wal|"});
  }
  const auto full = postgres_durability_args("full"), off = postgres_durability_args("off");
  CHECK(std::find(full.begin(), full.end(), "synchronous_commit=on") != full.end());
  CHECK(std::find(full.begin(), full.end(), "fsync=on") != full.end());
  CHECK(std::find(off.begin(), off.end(), "fsync=off") != off.end());
  CHECK(std::find(off.begin(), off.end(), "synchronous_commit=off") != off.end());
}

TEST_SUITE_BEGIN("postgres");

TEST_CASE("postgres: the private server serves on loopback and leaves nothing behind") {
  PATHBENCH_SKIP_UNLESS_POSTGRES();
  mq::BrokerOptions o;
  o.server_args = postgres_durability_args("normal");
  mq::BrokerProcess server = mq::BrokerProcess::start("postgres", o);
  CHECK(server.url().starts_with("postgresql://postgres@127.0.0.1:"));
  PgConnection pg = PgConnection::open(server.url());
  CHECK(column_texts(pg, "SHOW synchronous_commit") == std::vector<std::string>{"off|"});
  CHECK(column_texts(pg, "SHOW fsync") == std::vector<std::string>{"on|"});
  CHECK(column_texts(pg, "SHOW listen_addresses") == std::vector<std::string>{"127.0.0.1|"});
  const pid_t group = server.pid();
  pg = PgConnection();
  server.stop();
  CHECK(::kill(-group, 0) != 0);
  CHECK_FALSE(server.running());
}

TEST_CASE("postgres: the same seed gives the same rows and the same answers as SQLite") {
  PATHBENCH_SKIP_UNLESS_POSTGRES();
  TempDir dir;
  const auto file = dir / "sales.db";
  const std::string url = fresh_database("same_rows");
  const SeedReport a = seed_database({file, 5'000, 7, false});
  const SeedReport b = seed_postgres({url, 5'000, 7, false});
  CHECK(a.sales == b.sales);
  CHECK(a.products == b.products);
  PgConnection pg = PgConnection::open(url);
  for (const char* sql : {"SELECT id, name FROM regions ORDER BY id", "SELECT id, region_id, name, city FROM stores ORDER BY id",
                          "SELECT id, name FROM categories ORDER BY id",
                          "SELECT id, category_id, name, price_cents FROM products ORDER BY id",
                          "SELECT count(*), sum(sale_time), sum(minute_of_day), sum(store_id * product_id), "
                          "sum(quantity * unit_price_cents - amount_cents), sum(amount_cents), sum(id * amount_cents) FROM sales",
                          "SELECT payment_method, count(*) FROM sales GROUP BY payment_method ORDER BY 1",
                          "SELECT key, value FROM meta ORDER BY key"}) {
    CAPTURE(sql);
    CHECK(column_texts(pg, sql) == column_texts(file, sql));
  }
  const DatasetShape shape_sqlite = read_dataset_shape(file), shape_pg = read_dataset_shape(url);
  CHECK(shape_pg.sales == shape_sqlite.sales);
  CHECK(shape_pg.first_sale_epoch_s == shape_sqlite.first_sale_epoch_s);
  CHECK(shape_pg.last_sale_epoch_s == shape_sqlite.last_sale_epoch_s);

  // Every drawn query: the same status and the same answer on both.
  QueryExecutor on_sqlite(file), on_pg(url);
  QueryMixConfig mix;
  mix.heavy_weight = 1;
  mix.point_weight = 1;
  mix.echo_weight = 0;
  QueryMix queries(mix, shape_sqlite);
  std::mt19937_64 rng(3);
  int nonzero_heavy = 0;
  for (int i = 0; i < 400; ++i) {
    const Query q = queries.draw(rng);
    const QueryOutcome x = on_sqlite.run(q, kNoDeadline), y = on_pg.run(q, kNoDeadline);
    REQUIRE(x.status == QueryStatus::ok);
    REQUIRE(y.status == QueryStatus::ok);
    CHECK(x.result.count == y.result.count);
    CHECK(x.result.sum_cents == y.result.sum_cents);
    nonzero_heavy += q.kind == QueryKind::heavy && x.result.count > 0;
  }
  CHECK(nonzero_heavy > 20);
  Query missing{QueryKind::point};
  missing.sale_id = 999'999;
  CHECK(on_pg.run(missing, kNoDeadline).result.count == 0);
  // Seeded already: refused without force, replaced with it.
  CHECK_THROWS_AS(seed_postgres({url, 5'000, 7, false}), SeedError);
  CHECK(seed_postgres({url, 2'000, 8, true}).sales == 2'000);
  CHECK(read_dataset_shape(url).sales == 2'000);
}

TEST_CASE("postgres: the deadline cancels a running query; a passed one is not started") {
  PATHBENCH_SKIP_UNLESS_POSTGRES();
  const std::string url = fresh_database("deadlines");
  seed_postgres({url, 200'000, 1, false});
  QueryExecutor pg(url);
  Query heavy{QueryKind::heavy};
  heavy.category_id = 1;
  heavy.from_epoch_s = 1'704'067'200;
  heavy.to_epoch_s = heavy.from_epoch_s + 730LL * 86'400;  // the whole range: the slowest heavy query
  heavy.minute_from = 0;
  heavy.minute_to = 1439;
  const QueryOutcome full = pg.run(heavy, kNoDeadline);
  REQUIRE(full.status == QueryStatus::ok);
  CHECK(pg.run(heavy, now_ns() - 1).status == QueryStatus::deadline_exceeded);
  int cancelled = 0;
  for (int i = 0; i < 10; ++i) {
    const QueryOutcome o = pg.run(heavy, now_ns() + 200'000);  // 0.2 ms: shorter than the query
    CHECK(o.status != QueryStatus::error);
    cancelled += o.status == QueryStatus::deadline_exceeded;
  }
  CHECK(cancelled > 0);
  // The connection is still usable after its cancels.
  const QueryOutcome again = pg.run(heavy, kNoDeadline);
  CHECK(again.status == QueryStatus::ok);
  CHECK(again.result.sum_cents == full.result.sum_cents);
}

TEST_CASE("postgres: migrations up, status and down on both databases") {
  PATHBENCH_SKIP_UNLESS_POSTGRES();
  TempDir dir;
  const std::string url = fresh_database("migrations");
  const std::string seeded = (dir / "seeded.db").string();
  seed_database({seeded, 100, 1, false});
  const auto applied = [](const std::string& target) {
    std::vector<int> v;
    for (auto& s : migration_status(target))
      if (s.applied) v.push_back(s.version);
    return v;
  };
  CHECK(applied(url).empty());
  CHECK(applied(seeded) == std::vector<int>{1});  // a seeded file: the baseline
  CHECK(applied((dir / "none.db").string()).empty());
  CHECK(migrate_up(url, 1) == 1);
  CHECK(applied(url) == std::vector<int>{1});
  CHECK(migrate_up(url) == 1);
  CHECK(migrate_up(url) == 0);
  CHECK(applied(url) == std::vector<int>{1, 2});
  CHECK(migrate_up(seeded) == 1);
  CHECK(applied(seeded) == std::vector<int>{1, 2});
  CHECK(read_dataset_shape(seeded).sales == 100);  // the sales data untouched
  CHECK(migrate_down(url) == 1);
  CHECK(applied(url) == std::vector<int>{1});
  CHECK(migrate_down(seeded, 5) == 2);
  CHECK(applied(seeded).empty());
  // Through the CLI: status, and a refused login is bad input with no password shown.
  const CommandResult status = run_pathbench("db migrate status --db '" + url + "'");
  CHECK(status.exit_code == 0);
  CHECK(status.output.find("0001 sales") != std::string::npos);
  CHECK(status.output.find("0002 tasks    pending") != std::string::npos);
  CHECK(run_pathbench("db migrate up --db '" + url + "'").exit_code == 0);
  const CommandResult refused = run_pathbench("db migrate status --db '" + replace_password(url, "nobody:s3cret") + "'");
  CHECK(refused.exit_code == 2);
  CHECK(refused.output.find("s3cret") == std::string::npos);
  CHECK(run_pathbench("db migrate sideways --db x.db").exit_code == 2);
}

TEST_CASE("postgres: the task store inserts, claims, finishes, reclaims and audits") {
  PATHBENCH_SKIP_UNLESS_POSTGRES();
  const std::string url = fresh_database("tasks");
  auto producer = open_postgres_task_store(url);
  auto worker_a = open_postgres_task_store(url);
  auto worker_b = open_postgres_task_store(url);
  for (int id = 1; id <= 5; ++id) producer->insert_received(id, "run-1", "write", "payload", 1'000 + id);
  producer->insert_received(1, "run-2", "cpu", "other run", 1'000);
  CHECK_THROWS_AS(producer->insert_received(1, "run-1", "write", "duplicate", 0), TaskStoreError);
  CHECK(producer->audit("run-1").received == 5);

  CHECK(worker_a->claim(1, "run-1", "a", 2'000, 3'000));
  CHECK_FALSE(worker_b->claim(1, "run-1", "b", 2'500, 3'500));  // leased to a
  CHECK_FALSE(worker_b->claim(99, "run-1", "b", 2'500, 3'500));  // no such task
  worker_a->write_batch(1, "run-1", 4);
  worker_a->finish(1, "run-1", TaskState::done, 2'800);
  CHECK_THROWS_AS(worker_a->finish(1, "run-1", TaskState::done, 2'900), TaskStoreError);  // not processing
  CHECK(worker_a->claim(2, "run-1", "a", 2'000, 3'000));
  worker_a->finish(2, "run-1", TaskState::failed, 2'100);
  // a dies holding task 3: after its lease, b may take it over, or the reclaim puts it back.
  CHECK(worker_a->claim(3, "run-1", "a", 2'000, 3'000));
  CHECK(worker_b->claim(3, "run-1", "b", 3'001, 4'000));
  CHECK(worker_a->claim(4, "run-1", "a", 2'000, 3'000));
  CHECK(producer->reclaim_expired("run-1", 2'999) == 0);
  CHECK(producer->reclaim_expired("run-1", 3'500) == 1);  // task 4 (task 3's new lease runs to 4'000)
  const TaskCounts c = producer->audit("run-1");
  CHECK(c.done == 1);
  CHECK(c.failed == 1);
  CHECK(c.processing == 1);
  CHECK(c.received == 2);
  CHECK(c.total() == 5);
  CHECK(producer->audit("run-2").received == 1);
  CHECK(producer->audit("nothing").total() == 0);
  PgConnection pg = PgConnection::open(url);
  CHECK(column_texts(pg, "SELECT count(*), sum(value) FROM task_writes WHERE run_id = 'run-1'") ==
        std::vector<std::string>{"4|4006|"});
  CHECK(column_texts(pg, "SELECT writes FROM task_counters WHERE run_id = 'run-1'") == std::vector<std::string>{"4|"});
  CHECK(column_texts(pg, "SELECT attempts, worker FROM tasks WHERE run_id = 'run-1' AND task_id = 3") ==
        std::vector<std::string>{"2|b|"});

  // Two workers racing for the same tasks: each task is claimed exactly once.
  for (int id = 100; id < 300; ++id) producer->insert_received(id, "race", "cpu", "", 0);
  std::atomic<int> claimed{0};
  auto race = [&](TaskStore& store, const char* name) {
    for (int id = 100; id < 300; ++id) claimed += store.claim(id, "race", name, 10, 1'000'000) ? 1 : 0;
  };
  std::thread ta([&] { race(*worker_a, "a"); });
  race(*worker_b, "b");
  ta.join();
  CHECK(claimed.load() == 200);
  CHECK(producer->audit("race").processing == 200);
  // Bad credentials: a TaskStoreError without the password.
  std::string message;
  try {
    open_postgres_task_store(replace_password(url, "nobody:s3cret"));
  } catch (const TaskStoreError& e) {
    message = e.what();
  }
  CHECK(message.find("cannot connect") != std::string::npos);
  CHECK(message.find("s3cret") == std::string::npos);
}

TEST_CASE("postgres: `pathbench run` on a private server, and refusals before any load") {
  PATHBENCH_SKIP_UNLESS_POSTGRES();
  TempDir dir;
  const auto scenario = [&](const std::string& database) {
    write_file(dir / "pg.toml", fmt::format(R"(
name = "pg"
[load]
mode = "closed"
concurrency = 4
duration = "1s"
warmup = "200ms"
[database]
kind = "postgres"
sales = 3000
{}
[query]
mix = {{ heavy = 1, point = 1 }}
[[path]]
kind = "grpc_unary"
via = "direct"
)",
                                            database));
    return run_pathbench(fmt::format("run '{}' --quiet --out '{}'", (dir / "pg.toml").string(),
                                     (dir / fmt::format("out{}", database.size())).string()));
  };
  const CommandResult ok = scenario("durability = \"normal\"");
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find("accounting holds") != std::string::npos);
  // Wrong credentials: exit 2, no password anywhere in the output.
  const CommandResult refused = scenario(fmt::format("url = \"{}\"", replace_password(shared_server().url(), "nobody:s3cret")));
  CHECK(refused.exit_code == 2);
  CHECK(refused.output.find("cannot connect") != std::string::npos);
  CHECK(refused.output.find("s3cret") == std::string::npos);
  // Nothing listening: exit 2 as well.
  const CommandResult unreachable = scenario("url = \"postgresql://u:s3cret@127.0.0.1:1/x\"");
  CHECK(unreachable.exit_code == 2);
  CHECK(unreachable.output.find("s3cret") == std::string::npos);
  // A bad URL: the loader's file:line:col, exit 2.
  const CommandResult bad = scenario("url = \"postgresql://u:s3cret@/x\"");
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("pg.toml:") != std::string::npos);
  CHECK(bad.output.find("s3cret") == std::string::npos);
}

TEST_CASE("postgres: SIGKILL of pathbench takes its private server and folder along, during initdb too") {
  PATHBENCH_SKIP_UNLESS_POSTGRES();
  // At once (while initdb runs, most likely) and 3 s in (the run under way).
  for (int wait_ms : {0, 3'000}) {
  CAPTURE(wait_ms);
  TempDir dir, tmp;
  write_file(dir / "long.toml", R"(
name = "long"
[load]
mode = "open"
rate_per_s = 50
duration = "60s"
warmup = "0s"
[database]
kind = "postgres"
sales = 1000
[query]
mix = { point = 1 }
[[path]]
kind = "grpc_unary"
via = "direct"
)");
  // The private server's folder goes under TMPDIR: a folder of this test's own.
  const std::string command = fmt::format("TMPDIR='{}' exec '{}' run '{}' --quiet --out '{}' >/dev/null 2>&1", tmp.path().string(),
                                          PATHBENCH_BINARY, (dir / "long.toml").string(), (dir / "out").string());
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait until the server is up and the run under way (its data folder exists), then SIGKILL.
  const auto server_folder = [&] {
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(tmp.path(), ec))
      if (e.path().filename().string().starts_with("pathbench-postgres-")) return e.path();
    return std::filesystem::path();
  };
  // server.out is opened by the supervisor's process before it execs: from then on the
  // supervisor owns the folder. (Between mkdtemp and that fork a SIGKILL can still leave an
  // empty folder behind, as it can for the private brokers.)
  std::filesystem::path folder;
  for (int i = 0; i < 600 && (folder.empty() || !std::filesystem::exists(folder / "server.out")); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    folder = server_folder();
  }
  REQUIRE_FALSE(folder.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = !std::filesystem::exists(folder);
  }
  CHECK(gone);  // the supervisor ended the server's tree and removed its folder
  }
}

TEST_CASE("postgres: a server stopped mid-run: errors counted, the run ends on time") {
  PATHBENCH_SKIP_UNLESS_POSTGRES();
  mq::BrokerProcess server = mq::BrokerProcess::start("postgres", {});
  Scenario s = load_scenario_text(fmt::format(R"(
name = "pg-stop"
[load]
mode = "open"
rate_per_s = 300
duration = "3s"
warmup = "0s"
deadline = "500ms"
[database]
kind = "postgres"
url = "{}"
sales = 3000
[query]
mix = {{ heavy = 1, point = 1 }}
[[path]]
kind = "grpc_unary"
via = "direct"
)",
                                              server.url()),
                                  "pg-stop.toml");
  auto database = prepare_database(s, {});
  CHECK(is_postgres_url(s.database.path.native()));
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1'200));
    server.stop();
  });
  const auto started = std::chrono::steady_clock::now();
  RunResult r = run_scenario(s, stop, {});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  stopper.join();
  REQUIRE(r.paths.size() == 1);
  const auto& p = r.paths[0];
  CHECK(p.failure.empty());
  CHECK(p.accounting_holds());
  CHECK(seconds < 3 + 4);  // the measured 3 s, the drain, the servers' stop: not a hang
  REQUIRE_FALSE(p.phases.empty());
  const auto& main = p.phases.back();
  CHECK(main.count(Outcome::ok) > 100);  // before the stop
  CHECK(main.errors() > 100);            // after it, each counted
}

TEST_CASE("postgres: workers elsewhere share one named server; the run's task producers write to it, the workers finish them there") {
  // Issue 18 item 5 on one machine: the workers are external (as on other hosts) and reach the
  // same PostgreSQL by URL; `run` has no worker of its own, yet its task producers must write
  // to that database (not to a local SQLite file the workers never see): it logs in, migrates
  // and takes the URL as the run's database.
  PATHBENCH_SKIP_UNLESS_POSTGRES();
  TempDir dir;
  const std::string url = fresh_database("shared_workers");
  Scenario s = load_scenario_text(fmt::format(R"(
name = "shared"
[load]
mode = "open"
rate_per_s = 200
concurrency = 32
duration = "1s"
warmup = "200ms"
[database]
kind = "postgres"
url = "{}"
sales = 3000
[query]
mix = {{ heavy = 1, point = 1 }}
[task]
mix = {{ query = 1, write = 1 }}
[[path]]
kind = "grpc_unary"
via = "direct"
connections = 2
[[path]]
kind = "task"
via = "direct"
connections = 2
)",
                                              url),
                                  "shared.toml");
  // Seeded beforehand, as `pathbench seed --db URL` does (a worker refuses an empty database);
  // then two workers on it, started first (as on their own hosts), named by endpoints only.
  migrate_up(url);
  seed_postgres({url, 3000, s.seed, false});
  std::vector<std::unique_ptr<WorkerServer>> workers;
  for (int i = 0; i < 2; ++i) {
    WorkerOptions wo;
    wo.id = fmt::format("shared-{}", i);
    wo.db_path = url;
    workers.push_back(std::make_unique<WorkerServer>(wo));
    s.workers.endpoints.push_back(workers.back()->address());
  }
  CHECK_FALSE(scenario_needs_database(s));  // no worker of this process queries
  CHECK(scenario_uses_database(s));
  std::unique_ptr<RunDatabase> ready = prepare_database(s, {});
  CHECK(postgres_is_seeded(url));
  CHECK(s.database.path.string() == postgres_session_url(url, s.database.durability));
  std::atomic<bool> stop{false};
  RunResult r = run_scenario(s, stop, {});
  REQUIRE(r.paths.size() == 2);
  for (auto& p : r.paths) {
    CAPTURE(p.label);
    CHECK(p.failure.empty());
    CHECK(p.accounting_holds());
    CHECK(p.phases[1].count(Outcome::ok) > 50);
    CHECK(p.phases[1].errors() == 0);
  }
  REQUIRE(r.paths[1].tasks.has_value());
  const TaskAudit& audit = *r.paths[1].tasks;
  CHECK(audit.error.empty());
  CHECK(audit.issued > 50);
  CHECK(audit.lost == 0);
  CHECK(audit.done == audit.issued);
  // Both workers wrote task states into the one table.
  PgConnection pg = PgConnection::open(url);
  auto by_worker = column_texts(pg, "SELECT worker, count(*) FROM tasks WHERE state = 'done' GROUP BY worker ORDER BY worker");
  REQUIRE(by_worker.size() == 2);
  CHECK(by_worker[0].rfind("shared-0|", 0) == 0);
  CHECK(by_worker[1].rfind("shared-1|", 0) == 0);
}

TEST_SUITE_END();
