// The SQLite TaskStore: WAL (readers never wait for the writer), synchronous from [database]
// durability (FULL / NORMAL / OFF: what a commit survives, docs/database.md), and every write in a
// BEGIN IMMEDIATE transaction so it takes the write lock up front, where the busy handler can
// wait for it (a deferred transaction that upgrades later would fail without waiting).
#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <thread>

#include "core/clock.h"
#include "db/durability.h"
#include "db/sqlite_handle.h"
#include "db/task_store.h"
#include "db/task_store_open.h"

namespace pathbench {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS tasks (
  run_id TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('received','processing','done','failed')),
  worker TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_us INTEGER NOT NULL,
  started_us INTEGER,
  finished_us INTEGER,
  lease_until_us INTEGER,
  PRIMARY KEY (run_id, task_id)
);
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (run_id, state);
CREATE TABLE IF NOT EXISTS task_writes (
  run_id TEXT NOT NULL, task_id INTEGER NOT NULL, n INTEGER NOT NULL, value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS task_counters (
  run_id TEXT PRIMARY KEY, writes INTEGER NOT NULL
);
)sql";

// SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries: under steady write
// contention a waiter sleeps far past the moment the lock came free. Short sleeps keep the wait
// close to the lock's real holding time, bounded by the same timeout.
struct BusyWait {
  Nanos timeout_ns = 0;
  Nanos started_ns = 0;
};

int busy_handler(void* context, int tries) {
  auto* wait = static_cast<BusyWait*>(context);
  const Nanos now = now_ns();
  if (tries == 0) wait->started_ns = now;
  if (now - wait->started_ns >= wait->timeout_ns) return 0;
  std::this_thread::sleep_for(std::chrono::microseconds(tries < 10 ? 20 : 200));
  return 1;
}

bool is_busy(int rc) noexcept {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

class SqliteTaskStore final : public TaskStore {
 public:
  SqliteTaskStore(const std::filesystem::path& file, int busy_timeout_ms, std::string_view durability) : file_(file) {
    std::string why;
    db_ = SqliteConnection::open(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, why);
    if (!db_) throw TaskStoreError(fmt::format("cannot open tasks database {}: {}", file.string(), why));
    busy_.timeout_ns = static_cast<Nanos>(std::max(busy_timeout_ms, 0)) * kNanosPerMilli;
    sqlite3_busy_handler(db_.get(), &busy_handler, &busy_);
    exec(sqlite_durability_pragmas(durability));
    exec(kSchema);
    begin_ = prepare("BEGIN IMMEDIATE");
    commit_ = prepare("COMMIT");
    rollback_ = prepare("ROLLBACK");
    insert_ = prepare(
        "INSERT INTO tasks (run_id, task_id, type, payload, state, created_us) VALUES (?1, ?2, ?3, ?4, 'received', ?5)");
    claim_ = prepare(
        "UPDATE tasks SET state = 'processing', worker = ?3, attempts = attempts + 1, started_us = ?4, "
        "lease_until_us = ?5 WHERE run_id = ?1 AND task_id = ?2 AND "
        "(state = 'received' OR (state = 'processing' AND lease_until_us < ?4))");
    finish_ = prepare(
        "UPDATE tasks SET state = ?3, finished_us = ?4 WHERE run_id = ?1 AND task_id = ?2 AND state = 'processing'");
    write_row_ = prepare("INSERT INTO task_writes (run_id, task_id, n, value) VALUES (?1, ?2, ?3, ?4)");
    counter_ = prepare(
        "INSERT INTO task_counters (run_id, writes) VALUES (?1, ?2) "
        "ON CONFLICT (run_id) DO UPDATE SET writes = writes + excluded.writes");
    reclaim_ = prepare(
        "UPDATE tasks SET state = 'received', worker = NULL, lease_until_us = NULL "
        "WHERE run_id = ?1 AND state = 'processing' AND lease_until_us < ?2");
    audit_ = prepare("SELECT state, count(*) FROM tasks WHERE run_id = ?1 GROUP BY state");
  }

  void insert_received(std::int64_t task_id, std::string_view run_id, std::string_view type, std::string_view payload,
                       std::int64_t created_unix_us) override {
    Transaction t(*this, "insert");
    sqlite3_stmt* s = insert_.get();
    bind_text(s, 1, run_id);
    sqlite3_bind_int64(s, 2, task_id);
    bind_text(s, 3, type);
    bind_text(s, 4, payload);
    sqlite3_bind_int64(s, 5, created_unix_us);
    step_done(insert_, "insert");
    t.commit();
  }

  bool claim(std::int64_t task_id, std::string_view run_id, std::string_view worker_id, std::int64_t now_unix_us,
             std::int64_t lease_until_unix_us) override {
    Transaction t(*this, "claim");
    sqlite3_stmt* s = claim_.get();
    bind_text(s, 1, run_id);
    sqlite3_bind_int64(s, 2, task_id);
    bind_text(s, 3, worker_id);
    sqlite3_bind_int64(s, 4, now_unix_us);
    sqlite3_bind_int64(s, 5, lease_until_unix_us);
    step_done(claim_, "claim");
    const bool claimed = sqlite3_changes(db_.get()) == 1;
    t.commit();
    return claimed;
  }

  void finish(std::int64_t task_id, std::string_view run_id, TaskState final_state,
              std::int64_t finished_unix_us) override {
    Transaction t(*this, "finish");
    sqlite3_stmt* s = finish_.get();
    bind_text(s, 1, run_id);
    sqlite3_bind_int64(s, 2, task_id);
    sqlite3_bind_text(s, 3, task_state_name(final_state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, finished_unix_us);
    step_done(finish_, "finish");
    const bool finished = sqlite3_changes(db_.get()) == 1;
    t.commit();
    if (!finished) throw TaskStoreError(fmt::format("task {} is not processing (reclaimed meanwhile?)", task_id));
  }

  void write_batch(std::int64_t task_id, std::string_view run_id, int rows) override {
    Transaction t(*this, "write_batch");
    for (int n = 0; n < rows; ++n) {
      sqlite3_stmt* s = write_row_.get();
      bind_text(s, 1, run_id);
      sqlite3_bind_int64(s, 2, task_id);
      sqlite3_bind_int(s, 3, n);
      sqlite3_bind_int64(s, 4, task_id * 1000 + n);
      step_done(write_row_, "write_batch");
    }
    sqlite3_stmt* s = counter_.get();
    bind_text(s, 1, run_id);
    sqlite3_bind_int64(s, 2, rows);
    step_done(counter_, "write_batch");
    t.commit();
  }

  std::int64_t reclaim_expired(std::string_view run_id, std::int64_t now_unix_us) override {
    Transaction t(*this, "reclaim");
    sqlite3_stmt* s = reclaim_.get();
    bind_text(s, 1, run_id);
    sqlite3_bind_int64(s, 2, now_unix_us);
    step_done(reclaim_, "reclaim");
    const std::int64_t n = sqlite3_changes(db_.get());
    t.commit();
    return n;
  }

  TaskCounts audit(std::string_view run_id) override {
    TaskCounts counts;
    sqlite3_stmt* s = audit_.get();
    bind_text(s, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      const auto* state = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      const std::int64_t n = sqlite3_column_int64(s, 1);
      const std::string_view name = state ? state : "";
      if (name == "received") counts.received = n;
      else if (name == "processing") counts.processing = n;
      else if (name == "done") counts.done = n;
      else if (name == "failed") counts.failed = n;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) fail(rc, "audit");
    return counts;
  }

  std::string durability_in_effect() override {
    auto pragma = [this](const char* sql) {
      SqliteStatement s = prepare(sql);
      std::string value = sqlite3_step(s.get()) == SQLITE_ROW && sqlite3_column_text(s.get(), 0)
                              ? reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0))
                              : "?";
      return value;
    };
    return fmt::format("journal_mode={} synchronous={}", pragma("PRAGMA journal_mode"), pragma("PRAGMA synchronous"));
  }

 private:
  // BEGIN IMMEDIATE ... COMMIT; rolled back when left without commit() (an exception).
  class Transaction {
   public:
    Transaction(SqliteTaskStore& store, const char* what) : store_(store), what_(what) {
      store_.step_done(store_.begin_, what_);
    }
    void commit() {
      store_.step_done(store_.commit_, what_);
      open_ = false;
    }
    ~Transaction() {
      if (!open_) return;
      sqlite3_step(store_.rollback_.get());
      sqlite3_reset(store_.rollback_.get());
    }

   private:
    SqliteTaskStore& store_;
    const char* what_;
    bool open_ = true;
  };

  static void bind_text(sqlite3_stmt* s, int index, std::string_view text) {
    sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }

  void exec(const char* sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return;
    std::string why = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    if (is_busy(rc)) throw TaskStoreBusy(fmt::format("tasks database {} is busy: {}", file_.string(), why));
    throw TaskStoreError(fmt::format("tasks database {}: {}", file_.string(), why));
  }

  SqliteStatement prepare(const char* sql) {
    SqliteStatement s = SqliteStatement::prepare(db_, sql, SQLITE_PREPARE_PERSISTENT);
    if (!s) throw TaskStoreError(fmt::format("tasks database {}: {}", file_.string(), db_.error_message()));
    return s;
  }

  void step_done(SqliteStatement& statement, const char* what) {
    const int rc = sqlite3_step(statement.get());
    sqlite3_reset(statement.get());
    sqlite3_clear_bindings(statement.get());
    if (rc != SQLITE_DONE) fail(rc, what);
  }

  [[noreturn]] void fail(int rc, const char* what) {
    if (is_busy(rc))
      throw TaskStoreBusy(fmt::format("tasks database busy ({}: locked by another writer past the busy timeout)", what));
    throw TaskStoreError(fmt::format("tasks database {}: {}: {}", file_.string(), what, db_.error_message()));
  }

  std::filesystem::path file_;
  BusyWait busy_;
  SqliteConnection db_;  // declared before the statements: closed after them
  SqliteStatement begin_, commit_, rollback_, insert_, claim_, finish_, write_row_, counter_, reclaim_, audit_;
};

}  // namespace

std::unique_ptr<TaskStore> open_sqlite_task_store(const std::filesystem::path& file, int busy_timeout_ms,
                                                  std::string_view durability) {
  return std::make_unique<SqliteTaskStore>(file, busy_timeout_ms, durability);
}

}  // namespace pathbench
