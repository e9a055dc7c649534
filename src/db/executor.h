// Runs catalog queries on SQLite or PostgreSQL. One QueryExecutor per worker thread: it owns a
// read-only connection and prepared statements, so worker threads share no mutex. Not
// thread-safe; never shared between threads. The database is chosen by the target it is opened
// with: a postgresql:// (or postgres://) URL is PostgreSQL (db/pg_executor.cpp: libpq, the same
// SQL and the same answers), anything else a SQLite file:
// the SQLite connection memory-maps the file and holds a shared lock from its first query until
// it is destroyed: other readers are unaffected, but nothing may write the file meanwhile (the
// seeder never does: it replaces the file by renaming a new one over it).
#pragma once
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

#include <memory>

#include "db/query.h"
#include "core/clock.h"

namespace pathbench {

enum class QueryStatus : std::uint8_t { ok, invalid_argument, deadline_exceeded, error };

struct QueryOutcome {
  QueryStatus status = QueryStatus::ok;
  QueryResult result;
  Nanos sql_ns = 0;         // time spent in SQLite (0 for echo)
  std::string error_field;  // invalid_argument: the offending field's name, e.g. "minute_to"
  std::string error_message;
};

// An INVALID_ARGUMENT message that names the field (the executor's messages usually do already).
std::string invalid_argument_message(const std::string& field, const std::string& message);

// A deadline that never passes.
inline constexpr Nanos kNoDeadline = std::numeric_limits<Nanos>::max();

class QueryBackend;  // db/query_backend.h

class QueryExecutor {
 public:
  // db_path: a SQLite file, or a postgresql:// URL. Throws std::runtime_error naming the file
  // (or the URL, user info redacted) if it cannot be opened / connected or lacks the tables.
  explicit QueryExecutor(const std::filesystem::path& db_path);
  ~QueryExecutor();
  QueryExecutor(const QueryExecutor&) = delete;
  QueryExecutor& operator=(const QueryExecutor&) = delete;

  // Validates the parameters, runs the query, and interrupts it once steady-clock time
  // `deadline_ns` passes, reporting deadline_exceeded (SQLite: sqlite3_progress_handler, checked
  // every ~1000 VM instructions; PostgreSQL: the reply is awaited until the deadline, then the
  // statement is cancelled with PQcancel). PostgreSQL errors (server gone: "error") are reported
  // the same way; a lost connection is re-opened by the next query. A point or heavy query whose deadline has already passed is
  // not started (deadline_exceeded, sql_ns 0); echo ignores the deadline and touches no SQLite.
  // invalid_argument names the first bad field: heavy needs to_epoch_s > from_epoch_s,
  // category_id >= 1, 0 <= minute_from <= minute_to <= 1439; point needs sale_id >= 1.
  // A point query for an id that does not exist is ok with count 0. Failures are reported in
  // the outcome, not thrown; allocates only to describe an invalid argument or an error.
  // sql_ns covers the statement's steps.
  QueryOutcome run(const Query& query, Nanos deadline_ns);

 private:
  // implementation-defined members
  std::unique_ptr<QueryBackend> backend_;
};

}  // namespace pathbench
