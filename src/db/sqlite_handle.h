// The one owner of SQLite connections and prepared statements in the db layer (seeder, catalog,
// executor): move-only RAII over sqlite3* and sqlite3_stmt*. Failures are returned, not thrown,
// because each caller words its own error (a SeedError, "not a usable pathbench database", ...)
// around SQLite's reason. Not thread-safe: a connection opened with SQLITE_OPEN_NOMUTEX belongs
// to one thread, like everything it prepares.
#pragma once
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <utility>

namespace pathbench {

class SqliteConnection {
 public:
  SqliteConnection() noexcept = default;
  ~SqliteConnection() { sqlite3_close(db_); }
  SqliteConnection(SqliteConnection&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  SqliteConnection& operator=(SqliteConnection&& other) noexcept {
    if (this != &other) {
      sqlite3_close(db_);
      db_ = std::exchange(other.db_, nullptr);
    }
    return *this;
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // sqlite3_open_v2(path, flags). On failure returns an empty connection and sets `error` to
  // SQLite's reason (the handle's message, or the result code's text when there is no handle);
  // the caller names the file in its own message.
  static SqliteConnection open(const std::filesystem::path& path, int flags, std::string& error);

  sqlite3* get() const noexcept { return db_; }
  explicit operator bool() const noexcept { return db_ != nullptr; }
  const char* error_message() const noexcept { return sqlite3_errmsg(db_); }

  // Closes now and returns sqlite3_close's code; on failure (unfinalized statements) the
  // connection stays open, so error_message() still explains and the destructor retries.
  int close() noexcept;

 private:
  explicit SqliteConnection(sqlite3* db) noexcept : db_(db) {}
  sqlite3* db_ = nullptr;
};

class SqliteStatement {
 public:
  SqliteStatement() noexcept = default;
  ~SqliteStatement() { sqlite3_finalize(stmt_); }
  SqliteStatement(SqliteStatement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  SqliteStatement& operator=(SqliteStatement&& other) noexcept {
    if (this != &other) {
      sqlite3_finalize(stmt_);
      stmt_ = std::exchange(other.stmt_, nullptr);
    }
    return *this;
  }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // sqlite3_prepare_v3(sql, prepare_flags). On failure returns an empty statement; the reason
  // is connection.error_message(). A statement must be destroyed before its connection closes.
  static SqliteStatement prepare(const SqliteConnection& connection, const char* sql, unsigned prepare_flags = 0);

  sqlite3_stmt* get() const noexcept { return stmt_; }
  explicit operator bool() const noexcept { return stmt_ != nullptr; }

 private:
  explicit SqliteStatement(sqlite3_stmt* stmt) noexcept : stmt_(stmt) {}
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace pathbench
