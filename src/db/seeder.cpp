#include "db/seeder.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <fmt/std.h>

#include "db/migrations.h"
#include "db/seed_generator.h"
#include "db/sqlite_handle.h"

namespace pathbench {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kMaxSales = 100'000'000;

// ---------------------------------------------------------------------------------------------
// Thin RAII over the SQLite C API; every failure becomes a SeedError naming the file.

class Connection {
 public:
  explicit Connection(const fs::path& path) : path_(path) {
    std::string message;
    db_ = SqliteConnection::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, message);
    if (!db_) throw SeedError(fmt::format("cannot create {}: {}", path, message));
  }

  const SqliteConnection& handle() const noexcept { return db_; }
  void exec(const char* sql) {
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
  }
  [[noreturn]] void fail(std::string_view what) const {
    throw SeedError(fmt::format("seeding {} failed ({}): {}", path_, what, db_.error_message()));
  }
  // The destructor closes too, but only on the error path: this reports a failure.
  void close() {
    if (db_.close() != SQLITE_OK) fail("close");
  }

 private:
  fs::path path_;
  SqliteConnection db_;
};

class Statement {
 public:
  Statement(Connection& connection, const char* sql)
      : connection_(connection), stmt_(SqliteStatement::prepare(connection.handle(), sql)) {
    if (!stmt_) connection.fail(sql);
  }

  Statement& bind(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_.get(), index, value);
    return *this;
  }
  // Only for text that outlives the statement's next step (string literals, kept strings).
  Statement& bind_static(int index, std::string_view value) {
    sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bind_copy(int index, std::string_view value) {
    sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
  }
  void run() {
    if (sqlite3_step(stmt_.get()) != SQLITE_DONE) connection_.fail(sqlite3_sql(stmt_.get()));
    sqlite3_reset(stmt_.get());
  }

 private:
  Connection& connection_;
  SqliteStatement stmt_;
};

// The schema is migration 0001 (db/migrations.cpp): tables first, indexes after the bulk insert.

// The generator's rows (db/seed_generator.h) as INSERTs through prepared statements.
class SqliteSink final : public SeedSink {
 public:
  explicit SqliteSink(Connection& db)
      : region_(db, "INSERT INTO regions(id, name) VALUES(?1, ?2)"),
        store_(db, "INSERT INTO stores(id, region_id, name, city) VALUES(?1, ?2, ?3, ?4)"),
        category_(db, "INSERT INTO categories(id, name) VALUES(?1, ?2)"),
        product_(db, "INSERT INTO products(id, category_id, name, price_cents) VALUES(?1, ?2, ?3, ?4)"),
        sale_(db,
              "INSERT INTO sales(id, sale_time, minute_of_day, store_id, product_id, quantity,"
              " unit_price_cents, amount_cents, payment_method) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)") {}
  void region(std::int64_t id, std::string_view name) override { region_.bind(1, id).bind_copy(2, name).run(); }
  void store(std::int64_t id, std::int64_t region_id, std::string_view name, std::string_view city) override {
    store_.bind(1, id).bind(2, region_id).bind_copy(3, name).bind_copy(4, city).run();
  }
  void category(std::int64_t id, std::string_view name) override { category_.bind(1, id).bind_copy(2, name).run(); }
  void product(std::int64_t id, std::int64_t category_id, std::string_view name, std::int64_t price_cents) override {
    product_.bind(1, id).bind(2, category_id).bind_copy(3, name).bind(4, price_cents).run();
  }
  void sale(const SaleRow& r) override {
    sale_.bind(1, r.id)
        .bind(2, r.sale_time)
        .bind(3, r.minute_of_day)
        .bind(4, r.store_id)
        .bind(5, r.product_id)
        .bind(6, r.quantity)
        .bind(7, r.unit_price_cents)
        .bind(8, r.amount_cents)
        .bind_static(9, r.payment_method)
        .run();
  }

 private:
  Statement region_, store_, category_, product_, sale_;
};

void write_meta(Connection& db, const SeedReport& report, std::uint64_t seed, std::int64_t first_sale_s,
                std::int64_t last_sale_s) {
  {
    Statement put(db, "INSERT INTO meta(key, value) VALUES(?1, ?2)");
    put.bind_static(1, "generator").bind_static(2, kDatabaseGenerator).run();
    put.bind_static(1, "schema_version").bind(2, kSchemaVersion).run();
    // As text: SQLite integers are signed and the seed uses all 64 bits.
    put.bind_static(1, "seed").bind_copy(2, fmt::format("{}", seed)).run();
    put.bind_static(1, "regions").bind(2, report.regions).run();
    put.bind_static(1, "stores").bind(2, report.stores).run();
    put.bind_static(1, "categories").bind(2, report.categories).run();
    put.bind_static(1, "products").bind(2, report.products).run();
    put.bind_static(1, "sales").bind(2, report.sales).run();
    put.bind_static(1, "first_sale_epoch_s").bind(2, first_sale_s).run();
    put.bind_static(1, "last_sale_epoch_s").bind(2, last_sale_s).run();
  }
}

// synchronous=OFF skips every fsync while building; one fsync before the rename makes the
// file durable before it becomes visible under its real name.
void sync_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const std::error_code ec(errno, std::generic_category());
    if (fd >= 0) ::close(fd);
    throw SeedError(fmt::format("cannot sync {}: {}", path, ec.message()));
  }
  ::close(fd);
}

void build(const fs::path& path, const SeedOptions& options, SeedReport& report) {
  Connection db(path);
  // Nobody else can see the temporary file and a failure deletes it, so neither a journal
  // nor fsyncs buy anything during the build. journal_mode=OFF is not persisted: the file
  // opens later in the default rollback (DELETE) mode, which suits readers that only read:
  // WAL would make every read-only opener need a writable -shm file beside the database.
  db.exec("PRAGMA journal_mode=OFF");
  db.exec("PRAGMA synchronous=OFF");
  db.exec("PRAGMA locking_mode=EXCLUSIVE");
  // cache_size stays at SQLite's default (2 MiB): it also bounds the index sorter's in-memory
  // runs, and small runs that fit the CPU caches built the 1 M-row index about twice as fast
  // as 32-128 MiB did (measured).
  db.exec("BEGIN");
  db.exec(kSqliteSalesTablesSql);
  GeneratedData data;
  {
    SqliteSink sink(db);
    data = generate_seed_rows(sink, options.sales, options.seed);
  }
  db.exec(kSqliteSalesIndexSql);
  write_meta(db, data.report, options.seed, data.first_sale_epoch_s, data.last_sale_epoch_s);
  // Statistics let the planner pick the covering index over a scan of sales for the
  // heavy query's join order, whatever the data size.
  db.exec("ANALYZE");
  db.exec("COMMIT");
  db.close();
  report = data.report;
}

void remove_quietly(const fs::path& path) {
  std::error_code ignored;
  fs::remove(path, ignored);
}

}  // namespace

SeedReport seed_database(const SeedOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  if (options.sales < 1 || options.sales > kMaxSales) {
    throw SeedError(fmt::format("sales must be between 1 and {}, got {}", kMaxSales, options.sales), true);
  }
  const fs::path& path = options.db_path;
  if (path.empty()) throw SeedError("no database path given", true);
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (fs::exists(status)) {
    if (!options.force) {
      throw SeedError(fmt::format("{} already exists; use --force to overwrite it", path), true);
    }
    if (!fs::is_regular_file(status)) {
      throw SeedError(fmt::format("{} exists and is not a regular file; refusing to overwrite it", path), true);
    }
  }
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
    if (ec) throw SeedError(fmt::format("cannot create directory {}: {}", path.parent_path(), ec.message()));
  }

  fs::path temporary = path;
  temporary += fmt::format(".tmp-{}", ::getpid());
  remove_quietly(temporary);  // a leftover of a crashed run that had our pid
  SeedReport report;
  try {
    build(temporary, options, report);
    sync_file(temporary);
  } catch (...) {
    remove_quietly(temporary);
    throw;
  }
  // A hot journal or WAL left beside the old database would be replayed into the new one.
  for (const char* suffix : {"-journal", "-wal", "-shm"}) {
    fs::path companion = path;
    companion += suffix;
    remove_quietly(companion);
  }
  fs::rename(temporary, path, ec);
  if (ec) {
    remove_quietly(temporary);
    throw SeedError(fmt::format("cannot move {} to {}: {}", temporary, path, ec.message()));
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace pathbench
