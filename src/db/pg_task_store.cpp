// The PostgreSQL TaskStore (db/task_store.h): one libpq connection, every statement prepared
// once, each operation one statement or one transaction — the same SQL and the same semantics
// as the SQLite store (a claim takes a `received` task or a `processing` one whose lease has
// ended; finish refuses a task that is not `processing`; write_batch's rows and its counter
// update commit together). Row locks instead of SQLite's one writer: concurrent workers on
// other tasks never wait for each other. The tables come from the migrations (db/migrations.h,
// 0002 tasks), applied on open under their advisory lock, so stores opened at once on several
// machines create them once.
#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <string>

#include "core/url.h"
#include "db/migrations.h"
#include "db/pg_connection.h"
#include "db/task_store.h"

namespace pathbench {
namespace {

// A small fixed-size decimal for a parameter: no allocation per call.
struct Int64Text {
  explicit Int64Text(std::int64_t v) {
    auto [end, ec] = std::to_chars(text, text + sizeof text - 1, v);
    *end = '\0';
  }
  char text[24];
};

struct Statement {
  const char* name;
  const char* sql;
};
constexpr Statement kInsert{"pb_task_insert",
                            "INSERT INTO tasks (run_id, task_id, type, payload, state, created_us)"
                            " VALUES ($1, $2::bigint, $3, $4, 'received', $5::bigint)"};
constexpr Statement kClaim{"pb_task_claim",
                           "UPDATE tasks SET state = 'processing', worker = $3, attempts = attempts + 1,"
                           " started_us = $4::bigint, lease_until_us = $5::bigint"
                           " WHERE run_id = $1 AND task_id = $2::bigint AND"
                           " (state = 'received' OR (state = 'processing' AND lease_until_us < $4::bigint))"};
constexpr Statement kFinish{"pb_task_finish",
                            "UPDATE tasks SET state = $3, finished_us = $4::bigint"
                            " WHERE run_id = $1 AND task_id = $2::bigint AND state = 'processing'"};
// One statement for the whole batch (generate_series) plus the counter: the same rows as the
// SQLite store's per-row inserts (n = 0..rows-1, value = task_id * 1000 + n).
constexpr Statement kWriteRows{"pb_task_write_rows",
                               "INSERT INTO task_writes (run_id, task_id, n, value)"
                               " SELECT $1, $2::bigint, n, $2::bigint * 1000 + n FROM generate_series(0, $3::int - 1) AS n"};
constexpr Statement kCounter{"pb_task_counter",
                             "INSERT INTO task_counters (run_id, writes) VALUES ($1, $2::bigint)"
                             " ON CONFLICT (run_id) DO UPDATE SET writes = task_counters.writes + excluded.writes"};
constexpr Statement kReclaim{"pb_task_reclaim",
                             "UPDATE tasks SET state = 'received', worker = NULL, lease_until_us = NULL"
                             " WHERE run_id = $1 AND state = 'processing' AND lease_until_us < $2::bigint"};
constexpr Statement kAudit{"pb_task_audit", "SELECT state, count(*) FROM tasks WHERE run_id = $1 GROUP BY state"};

// The state's name as the tasks table spells it (the same words as task_state_name).
const char* state_text(TaskState s) noexcept {
  switch (s) {
    case TaskState::received: return "received";
    case TaskState::processing: return "processing";
    case TaskState::done: return "done";
    case TaskState::failed: return "failed";
  }
  return "failed";
}

class PgTaskStore final : public TaskStore {
 public:
  explicit PgTaskStore(const std::string& url) {
    try {
      migrate_up(url);  // 0001 and 0002: the tasks tables, once, under the migration lock
      pg_ = PgConnection::open(url);
    } catch (const std::exception& e) {
      throw TaskStoreError(redact_urls(e.what()));
    }
    for (const Statement* s : {&kInsert, &kClaim, &kFinish, &kWriteRows, &kCounter, &kReclaim, &kAudit}) {
      PgResult r(PQprepare(pg_.get(), s->name, s->sql, 0, nullptr));
      if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail(r.get(), s->name);
    }
  }

  void insert_received(std::int64_t task_id, std::string_view run_id, std::string_view type, std::string_view payload,
                       std::int64_t created_unix_us) override {
    const std::string run(run_id), kind(type), body(payload);
    const Int64Text id(task_id), created(created_unix_us);
    run_prepared(kInsert, {run.c_str(), id.text, kind.c_str(), body.c_str(), created.text}, "insert");
  }

  bool claim(std::int64_t task_id, std::string_view run_id, std::string_view worker_id, std::int64_t now_unix_us,
             std::int64_t lease_until_unix_us) override {
    const std::string run(run_id), worker(worker_id);
    const Int64Text id(task_id), now(now_unix_us), lease(lease_until_unix_us);
    PgResult r = run_prepared(kClaim, {run.c_str(), id.text, worker.c_str(), now.text, lease.text}, "claim");
    return std::strcmp(PQcmdTuples(r.get()), "1") == 0;
  }

  void finish(std::int64_t task_id, std::string_view run_id, TaskState final_state,
              std::int64_t finished_unix_us) override {
    const std::string run(run_id);
    const Int64Text id(task_id), finished(finished_unix_us);
    PgResult r = run_prepared(kFinish, {run.c_str(), id.text, state_text(final_state), finished.text}, "finish");
    if (std::strcmp(PQcmdTuples(r.get()), "1") != 0)
      throw TaskStoreError(fmt::format("task {} is not processing (reclaimed meanwhile?)", task_id));
  }

  void write_batch(std::int64_t task_id, std::string_view run_id, int rows) override {
    const std::string run(run_id);
    const Int64Text id(task_id), count(rows);
    exec("BEGIN", "write_batch");
    try {
      run_prepared(kWriteRows, {run.c_str(), id.text, count.text}, "write_batch");
      run_prepared(kCounter, {run.c_str(), count.text}, "write_batch");
      exec("COMMIT", "write_batch");
    } catch (...) {
      if (pg_.healthy()) PQclear(PQexec(pg_.get(), "ROLLBACK"));
      throw;
    }
  }

  std::int64_t reclaim_expired(std::string_view run_id, std::int64_t now_unix_us) override {
    const std::string run(run_id);
    const Int64Text now(now_unix_us);
    PgResult r = run_prepared(kReclaim, {run.c_str(), now.text}, "reclaim");
    std::int64_t n = 0;
    const char* text = PQcmdTuples(r.get());
    std::from_chars(text, text + std::strlen(text), n);
    return n;
  }

  TaskCounts audit(std::string_view run_id) override {
    const std::string run(run_id);
    PgResult r = run_prepared(kAudit, {run.c_str()}, "audit");
    TaskCounts counts;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      const std::string_view state = PQgetvalue(r.get(), i, 0);
      std::int64_t n = 0;
      const char* text = PQgetvalue(r.get(), i, 1);
      std::from_chars(text, text + std::strlen(text), n);
      if (state == "received") counts.received = n;
      else if (state == "processing") counts.processing = n;
      else if (state == "done") counts.done = n;
      else if (state == "failed") counts.failed = n;
    }
    return counts;
  }

  std::string durability_in_effect() override {
    auto show = [this](const char* sql) {
      PgResult r(PQexec(pg_.get(), sql));
      if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) fail(r.get(), "show");
      return std::string(PQgetvalue(r.get(), 0, 0));
    };
    return fmt::format("fsync={} synchronous_commit={}", show("SHOW fsync"), show("SHOW synchronous_commit"));
  }

 private:
  PgResult run_prepared(const Statement& s, std::initializer_list<const char*> params, const char* what) {
    const char* values[8];
    int n = 0;
    for (const char* p : params) values[n++] = p;
    PgResult r(PQexecPrepared(pg_.get(), s.name, n, values, nullptr, nullptr, 0));
    const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(r.get(), what);
    return r;
  }
  void exec(const char* sql, const char* what) {
    PgResult r(PQexec(pg_.get(), sql));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail(r.get(), what);
  }
  [[noreturn]] void fail(const PGresult* r, const char* what) {
    std::string why = r ? PQresultErrorMessage(r) : "";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    if (why.empty()) why = pg_.error_message();
    throw TaskStoreError(fmt::format("tasks on PostgreSQL at {}: {} failed: {}", pg_.redacted_url(), what, redact_urls(why)));
  }

  PgConnection pg_;
};

}  // namespace

std::unique_ptr<TaskStore> open_postgres_task_store(const std::string& conninfo) {
  return std::make_unique<PgTaskStore>(conninfo);
}

}  // namespace pathbench
