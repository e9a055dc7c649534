// The one owner of libpq connections in the db layer (executor, seeder, catalog, migrations,
// task store): move-only RAII over PGconn* and PGresult*. Every failure throws
// std::runtime_error (or the caller's own error type through PgConnection::fail) whose text has
// any URL's user info replaced by "***" (core/url.h): a password never reaches a message.
// Not thread-safe: a connection belongs to one thread, like what it prepares.
#pragma once
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pathbench {

// True for "postgresql://..." and "postgres://..." (what libpq and the scenario accept).
bool is_postgres_url(std::string_view target) noexcept;

// Checks a postgresql:// URL with core/url's parser (host required, port optional, database
// path optional); "" when usable, else the reason (no user info in it).
std::string postgres_url_problem(std::string_view url);

struct PgResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

class PgConnection {
 public:
  PgConnection() noexcept = default;
  // Connects (connect_timeout 5 s unless the URL says otherwise). Throws std::runtime_error
  // "cannot connect to PostgreSQL at <redacted url>: <libpq's reason>".
  static PgConnection open(const std::string& url);

  PgConnection(PgConnection&& other) noexcept;
  PgConnection& operator=(PgConnection&& other) noexcept;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection();

  PGconn* get() const noexcept { return conn_; }
  explicit operator bool() const noexcept { return conn_ != nullptr; }
  const std::string& redacted_url() const noexcept { return redacted_url_; }
  // libpq's last error, trimmed and redacted.
  std::string error_message() const;

  // Runs `sql` (one or more statements without parameters); throws on failure naming `what`.
  void exec(const char* sql, std::string_view what = {});
  // One statement with text parameters (nullptr = NULL); the result (tuples or command ok).
  PgResult query(const char* sql, const std::vector<const char*>& params = {}, std::string_view what = {});
  // True when the connection is usable (PQstatus OK).
  bool healthy() const noexcept;

 private:
  PGconn* conn_ = nullptr;
  std::string redacted_url_;
};

}  // namespace pathbench
