#include "db/executor.h"

#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/std.h>

#include "db/pg_connection.h"
#include "db/query_backend.h"
#include "db/sqlite_handle.h"

namespace pathbench {
namespace {

constexpr const char* kHeavySql = kHeavyQuerySql;
constexpr const char* kPointSql = kPointQuerySql;

constexpr int kBusyTimeoutMs = 1'000;
// The deadline is checked every this many VM instructions: ~10-50 us of work, so a late query
// stops promptly while the clock read stays a negligible share of the query's cost.
constexpr int kProgressInstructions = 1'000;
constexpr std::int32_t kLastMinuteOfDay = 1'439;

QueryOutcome invalid(const char* field, std::string message) {
  QueryOutcome outcome;
  outcome.status = QueryStatus::invalid_argument;
  outcome.error_field = field;
  outcome.error_message = std::move(message);
  return outcome;
}

std::optional<QueryOutcome> validate(const Query& q) {
  switch (q.kind) {
    case QueryKind::echo:
      return std::nullopt;
    case QueryKind::point:
      if (q.sale_id < 1) return invalid("sale_id", fmt::format("sale_id must be >= 1, got {}", q.sale_id));
      return std::nullopt;
    case QueryKind::heavy:
      if (q.to_epoch_s <= q.from_epoch_s) {
        return invalid("to_epoch_s", fmt::format("to_epoch_s ({}) must be after from_epoch_s ({})", q.to_epoch_s,
                                                 q.from_epoch_s));
      }
      if (q.category_id < 1) {
        return invalid("category_id", fmt::format("category_id must be >= 1, got {}", q.category_id));
      }
      if (q.minute_from < 0 || q.minute_from > kLastMinuteOfDay) {
        return invalid("minute_from", fmt::format("minute_from must be in 0..1439, got {}", q.minute_from));
      }
      if (q.minute_to < 0 || q.minute_to > kLastMinuteOfDay) {
        return invalid("minute_to", fmt::format("minute_to must be in 0..1439, got {}", q.minute_to));
      }
      if (q.minute_from > q.minute_to) {
        return invalid("minute_to", fmt::format("minute_to ({}) must not be before minute_from ({})", q.minute_to,
                                                q.minute_from));
      }
      return std::nullopt;
  }
  return invalid("kind", fmt::format("unknown query kind {}", static_cast<int>(q.kind)));
}

class SqliteQueryBackend final : public QueryBackend {
 public:
  explicit SqliteQueryBackend(const std::filesystem::path& db_path);
  void run(const Query& query, Nanos deadline_ns, QueryOutcome& outcome) override;

 private:
  SqliteConnection db_;  // declared first: closed after the statements
  SqliteStatement heavy_;
  SqliteStatement point_;
  Nanos deadline_ns_ = kNoDeadline;  // read by the progress handler; set only inside run()
};

SqliteQueryBackend::SqliteQueryBackend(const std::filesystem::path& db_path) {
  // Checked first: with SQLITE_OPEN_READONLY a missing file is only "unable to open database file".
  if (!std::filesystem::exists(db_path)) {
    throw std::runtime_error(fmt::format("{} does not exist; create it with `pathbench seed`", db_path));
  }
  const auto fail = [&](const std::string& why) {
    throw std::runtime_error(fmt::format("cannot query {}: {}", db_path, why));
  };
  // NOMUTEX: the connection is confined to one worker thread, so SQLite's own locking is
  // pure overhead. READONLY: workers must never change the data the benchmark measures.
  std::string why;
  db_ = SqliteConnection::open(db_path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, why);
  if (!db_) fail(why);
  sqlite3_busy_timeout(db_.get(), kBusyTimeoutMs);
  // Nothing writes a seeded database (the seeder builds a new file and renames it over the old
  // one; open connections keep reading the old inode), so each connection keeps its shared lock
  // for good instead of taking and releasing it around every statement: that cost ~7 us of
  // fcntl/fstat/pread per point query, more than the query itself. Memory-mapped reads let all
  // worker threads share the OS page cache instead of each filling a private page cache.
  // SQLite caps mmap_size at its compile-time maximum.
  if (sqlite3_exec(db_.get(), "PRAGMA locking_mode=EXCLUSIVE; PRAGMA mmap_size=17179869184", nullptr, nullptr,
                   nullptr) != SQLITE_OK) {
    fail(db_.error_message());
  }
  // PERSISTENT: the statements live as long as the connection, so they should not occupy the
  // connection's small lookaside pool, which the per-query allocations then get to use.
  heavy_ = SqliteStatement::prepare(db_, kHeavySql, SQLITE_PREPARE_PERSISTENT);
  if (heavy_) point_ = SqliteStatement::prepare(db_, kPointSql, SQLITE_PREPARE_PERSISTENT);
  if (!heavy_ || !point_) fail(db_.error_message());
  deadline_ns_ = kNoDeadline;
  sqlite3_progress_handler(
      db_.get(), kProgressInstructions,
      [](void* self) -> int { return now_ns() > static_cast<SqliteQueryBackend*>(self)->deadline_ns_ ? 1 : 0; }, this);
}

void SqliteQueryBackend::run(const Query& query, Nanos deadline_ns, QueryOutcome& outcome) {
  sqlite3_stmt* stmt = query.kind == QueryKind::heavy ? heavy_.get() : point_.get();
  if (query.kind == QueryKind::heavy) {
    sqlite3_bind_int(stmt, 1, query.category_id);
    sqlite3_bind_int64(stmt, 2, query.from_epoch_s);
    sqlite3_bind_int64(stmt, 3, query.to_epoch_s);
    sqlite3_bind_int(stmt, 4, query.minute_from);
    sqlite3_bind_int(stmt, 5, query.minute_to);
  } else {
    sqlite3_bind_int64(stmt, 1, query.sale_id);
  }

  deadline_ns_ = deadline_ns;
  const Nanos started_ns = now_ns();
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (query.kind == QueryKind::heavy) {
      outcome.result.count = sqlite3_column_int64(stmt, 0);
      outcome.result.sum_cents = sqlite3_column_int64(stmt, 1);
    } else {
      outcome.result.count = 1;
      outcome.result.sum_cents = sqlite3_column_int64(stmt, 0);
    }
  }
  outcome.sql_ns = now_ns() - started_ns;
  deadline_ns_ = kNoDeadline;

  if (rc == SQLITE_INTERRUPT) {
    outcome.status = QueryStatus::deadline_exceeded;
    outcome.result = {};
  } else if (rc != SQLITE_DONE) {
    outcome.status = QueryStatus::error;
    outcome.result = {};
    outcome.error_message = db_.error_message();
  }
  // Reset releases the read transaction's shared lock and readies the statement; its return
  // code repeats the step's error, already handled above.
  sqlite3_reset(stmt);
}

}  // namespace

std::unique_ptr<QueryBackend> open_sqlite_query_backend(const std::filesystem::path& db_path) {
  return std::make_unique<SqliteQueryBackend>(db_path);
}

QueryExecutor::QueryExecutor(const std::filesystem::path& db_path)
    : backend_(is_postgres_url(db_path.native()) ? open_postgres_query_backend(db_path.native())
                                                 : open_sqlite_query_backend(db_path)) {}

QueryExecutor::~QueryExecutor() = default;

QueryOutcome QueryExecutor::run(const Query& query, Nanos deadline_ns) {
  if (auto rejected = validate(query)) return std::move(*rejected);
  QueryOutcome outcome;
  if (query.kind == QueryKind::echo) return outcome;
  // A request that is already late is not worth a worker's time: answer at once.
  if (now_ns() > deadline_ns) {
    outcome.status = QueryStatus::deadline_exceeded;
    return outcome;
  }
  backend_->run(query, deadline_ns, outcome);
  return outcome;
}

std::string invalid_argument_message(const std::string& field, const std::string& message) {
  if (message.find(field) != std::string::npos) return message;
  return field + ": " + message;
}

}  // namespace pathbench
