// Numbered schema migrations for both databases, as the seed system applied its schema with
// golang-migrate: each has an up and a down script per backend, and a database records what it
// has applied in schema_migrations(version, name, applied_unix_s).
//   0001 sales — the catalog the seeder fills and the workers read (regions, stores, categories,
//        products, sales, meta; indexes products_by_category, sales_by_product_time)
//   0002 tasks — the task path's tables (tasks, task_writes, task_counters; db/task_store.h)
// A target is a SQLite file or a postgresql:// URL. Each migration runs in one transaction
// with its schema_migrations row; on PostgreSQL under an advisory lock, so workers on several
// machines migrating one server at once apply each migration exactly once.
// A SQLite file made by `pathbench seed` has the sales tables but no schema_migrations table
// (the seeded file's bytes are pinned): it counts as at version 1, and the first migrate
// records that baseline.
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace pathbench {

struct Migration {
  int version;
  const char* name;
  const char* sqlite_up;
  const char* sqlite_down;
  const char* postgres_up;
  const char* postgres_down;
};

// Every migration, version ascending (1, 2, ...).
std::span<const Migration> all_migrations() noexcept;

// The SQLite sales schema without its indexes, and the indexes (0001 is both; the seeder
// creates the tables, bulk-loads, then builds the indexes).
extern const char* const kSqliteSalesTablesSql;
extern const char* const kSqliteSalesIndexSql;
// The PostgreSQL sales indexes (the seeder drops and rebuilds them around its COPY).
extern const char* const kPostgresSalesIndexSql;
extern const char* const kPostgresDropSalesIndexSql;

struct MigrationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct MigrationStatus {
  int version = 0;
  std::string name;
  bool applied = false;
  std::int64_t applied_unix_s = 0;  // 0: not applied, or the seeded baseline
};

// What `target` has applied (it is read, never changed). A missing SQLite file: nothing applied.
// Throws MigrationError (cannot open / connect: the URL's user info redacted).
std::vector<MigrationStatus> migration_status(const std::string& target);
// Applies every migration above the current version up to `to_version` (0 = the latest);
// creates a missing SQLite file. Returns how many it applied. Throws MigrationError.
int migrate_up(const std::string& target, int to_version = 0);
// Reverts the `steps` most recent migrations (newest first). Returns how many it reverted.
int migrate_down(const std::string& target, int steps = 1);

}  // namespace pathbench
