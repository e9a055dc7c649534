#include "db/pg_connection.h"

#include <fmt/format.h>

#include <stdexcept>
#include <utility>

#include "core/url.h"

namespace pathbench {

bool is_postgres_url(std::string_view target) noexcept {
  return target.starts_with("postgresql://") || target.starts_with("postgres://");
}

std::string postgres_url_problem(std::string_view url) {
  if (!is_postgres_url(url)) return "not a postgresql:// URL";
  // libpq also takes "?param=value" options after the path; core/url does not know them, so
  // only the part before '?' is checked here (libpq checks the options when connecting).
  const std::string_view base = url.substr(0, url.find('?'));
  std::string why;
  if (!parse_url(base, default_port_of("postgresql"), &why)) return redact_urls(why);
  return "";
}

PgConnection PgConnection::open(const std::string& url) {
  PgConnection c;
  c.redacted_url_ = redact_urls(url);
  // connect_timeout first: keywords expanded later (the URL's own) override it.
  const char* keywords[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"5", url.c_str(), nullptr};
  c.conn_ = PQconnectdbParams(keywords, values, 1);
  if (c.conn_ == nullptr) throw std::runtime_error(fmt::format("cannot connect to PostgreSQL at {}: out of memory", c.redacted_url_));
  if (PQstatus(c.conn_) != CONNECTION_OK)
    throw std::runtime_error(fmt::format("cannot connect to PostgreSQL at {}: {}", c.redacted_url_, c.error_message()));
  // Notices (e.g. "relation already exists, skipping") are not for the user's terminal.
  PQsetNoticeProcessor(c.conn_, [](void*, const char*) {}, nullptr);
  return c;
}

PgConnection::PgConnection(PgConnection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)), redacted_url_(std::move(other.redacted_url_)) {}

PgConnection& PgConnection::operator=(PgConnection&& other) noexcept {
  if (this != &other) {
    if (conn_) PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
    redacted_url_ = std::move(other.redacted_url_);
  }
  return *this;
}

PgConnection::~PgConnection() {
  if (conn_) PQfinish(conn_);
}

std::string PgConnection::error_message() const {
  std::string m = conn_ ? PQerrorMessage(conn_) : "no connection";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return redact_urls(m);
}

bool PgConnection::healthy() const noexcept { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

void PgConnection::exec(const char* sql, std::string_view what) {
  PgResult r(PQexec(conn_, sql));
  const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw std::runtime_error(fmt::format("PostgreSQL at {}: {} failed: {}", redacted_url_, what.empty() ? sql : what,
                                         error_message()));
}

PgResult PgConnection::query(const char* sql, const std::vector<const char*>& params, std::string_view what) {
  PgResult r(PQexecParams(conn_, sql, static_cast<int>(params.size()), nullptr, params.data(), nullptr, nullptr, 0));
  const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw std::runtime_error(fmt::format("PostgreSQL at {}: {} failed: {}", redacted_url_, what.empty() ? sql : what,
                                         error_message()));
  return r;
}

}  // namespace pathbench
