#include "db/sqlite_handle.h"

namespace pathbench {

SqliteConnection SqliteConnection::open(const std::filesystem::path& path, int flags, std::string& error) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  SqliteConnection connection(db);  // owned even when opening failed, so it is closed
  if (rc == SQLITE_OK) return connection;
  error = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return SqliteConnection();
}

int SqliteConnection::close() noexcept {
  if (db_ == nullptr) return SQLITE_OK;
  const int rc = sqlite3_close(db_);
  if (rc == SQLITE_OK) db_ = nullptr;
  return rc;
}

SqliteStatement SqliteStatement::prepare(const SqliteConnection& connection, const char* sql, unsigned prepare_flags) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(connection.get(), sql, -1, prepare_flags, &stmt, nullptr) != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteStatement();
  }
  return SqliteStatement(stmt);
}

}  // namespace pathbench
