#include "db/migrations.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "core/url.h"
#include "db/pg_connection.h"
#include "db/sqlite_handle.h"

namespace pathbench {

// The sales schema. `sales` is append-only in id order with ids in sale_time order, like a real
// till log. The one secondary index on sales is built for the heavy query: it seeks each
// product of the category, reads only the 30-day slice of that product, and finds
// minute_of_day and amount_cents in the index itself, so the 1 M-row table is never touched.
// Indexing sale_time alone would read every sale in the range (12x more) plus the table rows.
const char* const kSqliteSalesTablesSql = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE regions(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE stores(
  id INTEGER PRIMARY KEY,
  region_id INTEGER NOT NULL REFERENCES regions(id),
  name TEXT NOT NULL,
  city TEXT NOT NULL);
CREATE TABLE categories(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE products(
  id INTEGER PRIMARY KEY,
  category_id INTEGER NOT NULL REFERENCES categories(id),
  name TEXT NOT NULL,
  price_cents INTEGER NOT NULL);
CREATE TABLE sales(
  id INTEGER PRIMARY KEY,
  sale_time INTEGER NOT NULL,      -- epoch seconds, UTC
  minute_of_day INTEGER NOT NULL,  -- 0..1439 of sale_time's UTC day
  store_id INTEGER NOT NULL REFERENCES stores(id),
  product_id INTEGER NOT NULL REFERENCES products(id),
  quantity INTEGER NOT NULL,
  unit_price_cents INTEGER NOT NULL,
  amount_cents INTEGER NOT NULL,   -- quantity * unit_price_cents
  payment_method TEXT NOT NULL);
)sql";

// Built after the bulk insert: one sort is far cheaper than maintaining a B-tree per row.
const char* const kSqliteSalesIndexSql = R"sql(
CREATE INDEX products_by_category ON products(category_id);
CREATE INDEX sales_by_product_time ON sales(product_id, sale_time, minute_of_day, amount_cents);
)sql";

const char* const kPostgresSalesIndexSql = R"sql(
CREATE INDEX products_by_category ON products(category_id);
CREATE INDEX sales_by_product_time ON sales(product_id, sale_time, minute_of_day, amount_cents);
)sql";
const char* const kPostgresDropSalesIndexSql =
    "DROP INDEX IF EXISTS sales_by_product_time; DROP INDEX IF EXISTS products_by_category;";

namespace {

constexpr const char* kSqliteSalesDown =
    "DROP TABLE IF EXISTS sales; DROP TABLE IF EXISTS products; DROP TABLE IF EXISTS categories;"
    " DROP TABLE IF EXISTS stores; DROP TABLE IF EXISTS regions; DROP TABLE IF EXISTS meta;";

// The same tables on PostgreSQL: BIGINT where SQLite's INTEGER holds 64 bits. No foreign keys:
// SQLite does not enforce its REFERENCES either (foreign_keys is off), and checking every COPYed
// sale would only slow the bulk load of rows the generator already makes consistent.
constexpr const char* kPostgresSalesUp = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE regions(id BIGINT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE stores(id BIGINT PRIMARY KEY, region_id BIGINT NOT NULL, name TEXT NOT NULL, city TEXT NOT NULL);
CREATE TABLE categories(id BIGINT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE products(id BIGINT PRIMARY KEY, category_id BIGINT NOT NULL, name TEXT NOT NULL,
                      price_cents BIGINT NOT NULL);
CREATE TABLE sales(
  id BIGINT PRIMARY KEY,
  sale_time BIGINT NOT NULL,
  minute_of_day INTEGER NOT NULL,
  store_id BIGINT NOT NULL,
  product_id BIGINT NOT NULL,
  quantity INTEGER NOT NULL,
  unit_price_cents BIGINT NOT NULL,
  amount_cents BIGINT NOT NULL,
  payment_method TEXT NOT NULL);
CREATE INDEX products_by_category ON products(category_id);
CREATE INDEX sales_by_product_time ON sales(product_id, sale_time, minute_of_day, amount_cents);
)sql";
constexpr const char* kPostgresSalesDown =
    "DROP TABLE IF EXISTS sales, products, categories, stores, regions, meta;";

// The task path's tables (the same text on both: SQLite reads BIGINT as INTEGER affinity).
constexpr const char* kTasksUp = R"sql(
CREATE TABLE IF NOT EXISTS tasks (
  run_id TEXT NOT NULL,
  task_id BIGINT NOT NULL,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('received','processing','done','failed')),
  worker TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_us BIGINT NOT NULL,
  started_us BIGINT,
  finished_us BIGINT,
  lease_until_us BIGINT,
  PRIMARY KEY (run_id, task_id)
);
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (run_id, state);
CREATE TABLE IF NOT EXISTS task_writes (
  run_id TEXT NOT NULL, task_id BIGINT NOT NULL, n INTEGER NOT NULL, value BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS task_counters (
  run_id TEXT PRIMARY KEY, writes BIGINT NOT NULL
);
)sql";
constexpr const char* kTasksDown =
    "DROP TABLE IF EXISTS task_counters; DROP TABLE IF EXISTS task_writes; DROP TABLE IF EXISTS tasks;";

std::string sqlite_sales_up() { return std::string(kSqliteSalesTablesSql) + kSqliteSalesIndexSql; }

const Migration kMigrations[] = {
    {1, "sales", nullptr, kSqliteSalesDown, kPostgresSalesUp, kPostgresSalesDown},
    {2, "tasks", kTasksUp, kTasksDown, kTasksUp, kTasksDown},
};

const char* sqlite_up_of(const Migration& m) {
  static const std::string sales = sqlite_sales_up();
  return m.sqlite_up ? m.sqlite_up : sales.c_str();
}

std::int64_t now_unix_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

constexpr const char* kTableSql =
    "CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " applied_unix_s BIGINT NOT NULL)";

// --- the two databases behind one small interface ----------------------------------------

struct Applied {
  int version;
  std::int64_t applied_unix_s;
};

class Target {
 public:
  virtual ~Target() = default;
  virtual std::vector<Applied> applied() = 0;
  // Runs `sql` and records (or forgets) `m` in one transaction.
  virtual void apply(const Migration& m, bool up) = 0;
};

class SqliteTarget final : public Target {
 public:
  SqliteTarget(const std::string& file, bool create) : file_(file) {
    if (!create && !std::filesystem::exists(file)) {
      missing_ = true;
      return;
    }
    std::string why;
    db_ = SqliteConnection::open(file, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX,
                                 why);
    if (!db_) throw MigrationError(fmt::format("cannot open {}: {}", file, why));
    sqlite3_busy_timeout(db_.get(), 5'000);
  }
  std::vector<Applied> applied() override {
    std::vector<Applied> out;
    if (missing_) return out;
    if (has_table("schema_migrations")) {
      SqliteStatement s = SqliteStatement::prepare(db_, "SELECT version, applied_unix_s FROM schema_migrations ORDER BY version");
      if (!s) fail("reading schema_migrations");
      while (sqlite3_step(s.get()) == SQLITE_ROW)
        out.push_back({sqlite3_column_int(s.get(), 0), sqlite3_column_int64(s.get(), 1)});
    } else if (has_table("meta") && has_table("sales")) {
      out.push_back({1, 0});  // a seeded file: the baseline
    }
    return out;
  }
  void apply(const Migration& m, bool up) override {
    const bool baseline = !has_table("schema_migrations") && has_table("meta") && has_table("sales");
    exec("BEGIN IMMEDIATE");
    try {
      exec(kTableSql);
      if (baseline) exec(fmt::format("INSERT OR IGNORE INTO schema_migrations VALUES(1, 'sales', 0)").c_str());
      exec(up ? sqlite_up_of(m) : m.sqlite_down);
      exec(up ? fmt::format("INSERT INTO schema_migrations VALUES({}, '{}', {})", m.version, m.name, now_unix_s()).c_str()
              : fmt::format("DELETE FROM schema_migrations WHERE version = {}", m.version).c_str());
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

 private:
  bool has_table(const char* name) {
    SqliteStatement s = SqliteStatement::prepare(db_, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1");
    if (!s) fail("reading the schema");
    sqlite3_bind_text(s.get(), 1, name, -1, SQLITE_STATIC);
    return sqlite3_step(s.get()) == SQLITE_ROW;
  }
  void exec(const char* sql) {
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
  }
  [[noreturn]] void fail(std::string_view what) {
    throw MigrationError(fmt::format("migrating {} failed ({}): {}", file_, what, db_.error_message()));
  }
  std::string file_;
  bool missing_ = false;
  SqliteConnection db_;
};

// One arbitrary constant: the advisory lock every pathbench migrating this server takes.
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(7215001)";

class PostgresTarget final : public Target {
 public:
  explicit PostgresTarget(const std::string& url) {
    try {
      pg_ = PgConnection::open(url);
    } catch (const std::exception& e) {
      throw MigrationError(e.what());
    }
  }
  std::vector<Applied> applied() override {
    std::vector<Applied> out;
    try {
      PgResult exists = pg_.query("SELECT to_regclass('schema_migrations') IS NOT NULL");
      if (std::string(PQgetvalue(exists.get(), 0, 0)) != "t") return out;
      PgResult r = pg_.query("SELECT version, applied_unix_s FROM schema_migrations ORDER BY version");
      for (int i = 0; i < PQntuples(r.get()); ++i)
        out.push_back({std::stoi(PQgetvalue(r.get(), i, 0)), std::stoll(PQgetvalue(r.get(), i, 1))});
    } catch (const MigrationError&) {
      throw;
    } catch (const std::exception& e) {
      throw MigrationError(e.what());
    }
    return out;
  }
  void apply(const Migration& m, bool up) override {
    try {
      pg_.exec("BEGIN");
      pg_.exec(kLockSql, "taking the migration lock");
      pg_.exec(kTableSql, "creating schema_migrations");
      // Under the lock: another process may have applied it meanwhile.
      const std::string v = std::to_string(m.version);
      PgResult r = pg_.query("SELECT count(*) FROM schema_migrations WHERE version = $1::int", {v.c_str()});
      const bool present = std::string(PQgetvalue(r.get(), 0, 0)) != "0";
      if (present != up) {
        pg_.exec(up ? m.postgres_up : m.postgres_down, fmt::format("migration {:04} {} {}", m.version, m.name, up ? "up" : "down"));
        const std::string t = std::to_string(now_unix_s());
        if (up)
          pg_.query("INSERT INTO schema_migrations VALUES($1::int, $2, $3::bigint)", {v.c_str(), m.name, t.c_str()});
        else
          pg_.query("DELETE FROM schema_migrations WHERE version = $1::int", {v.c_str()});
      }
      pg_.exec("COMMIT");
    } catch (const std::exception& e) {
      if (pg_.healthy()) PQclear(PQexec(pg_.get(), "ROLLBACK"));
      throw MigrationError(e.what());
    }
  }

 private:
  PgConnection pg_;
};

std::unique_ptr<Target> open_target(const std::string& target, bool create) {
  if (target.empty()) throw MigrationError("no database given");
  if (is_postgres_url(target)) {
    if (std::string problem = postgres_url_problem(target); !problem.empty())
      throw MigrationError(fmt::format("{}: {}", redact_urls(target), problem));
    return std::make_unique<PostgresTarget>(target);
  }
  return std::make_unique<SqliteTarget>(target, create);
}

int current_version(const std::vector<Applied>& applied) {
  int v = 0;
  for (auto& a : applied) v = std::max(v, a.version);
  return v;
}

}  // namespace

std::span<const Migration> all_migrations() noexcept { return kMigrations; }

std::vector<MigrationStatus> migration_status(const std::string& target) {
  auto t = open_target(target, false);
  const auto applied = t->applied();
  std::vector<MigrationStatus> out;
  for (const Migration& m : kMigrations) {
    MigrationStatus s{m.version, m.name, false, 0};
    for (auto& a : applied)
      if (a.version == m.version) {
        s.applied = true;
        s.applied_unix_s = a.applied_unix_s;
      }
    out.push_back(s);
  }
  return out;
}

int migrate_up(const std::string& target, int to_version) {
  const int latest = kMigrations[std::size(kMigrations) - 1].version;
  if (to_version == 0) to_version = latest;
  if (to_version < 0 || to_version > latest)
    throw MigrationError(fmt::format("no migration {}: the latest is {:04}", to_version, latest));
  auto t = open_target(target, true);
  const int current = current_version(t->applied());
  int count = 0;
  for (const Migration& m : kMigrations) {
    if (m.version <= current || m.version > to_version) continue;
    t->apply(m, true);
    ++count;
  }
  return count;
}

int migrate_down(const std::string& target, int steps) {
  if (steps < 1) throw MigrationError(fmt::format("steps must be >= 1, got {}", steps));
  auto t = open_target(target, false);
  int current = current_version(t->applied());
  int count = 0;
  for (auto m = std::rbegin(kMigrations); m != std::rend(kMigrations) && count < steps; ++m) {
    if (m->version > current) continue;
    t->apply(*m, false);
    ++count;
  }
  return count;
}

}  // namespace pathbench
