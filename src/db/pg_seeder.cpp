// seed_postgres (db/seeder.h): the generator's rows (db/seed_generator.h) through COPY.
#include <fmt/format.h>

#include <chrono>
#include <string>

#include "core/url.h"
#include "db/migrations.h"
#include "db/pg_connection.h"
#include "db/seed_generator.h"
#include "db/seeder.h"

namespace pathbench {
namespace {

constexpr std::int64_t kMaxSales = 100'000'000;
constexpr std::size_t kCopyChunkBytes = 1 << 20;

// Text-format COPY rows, one table at a time: a new table ends the previous COPY.
class CopySink final : public SeedSink {
 public:
  explicit CopySink(PgConnection& pg) : pg_(pg) { buffer_.reserve(kCopyChunkBytes + 4096); }

  void region(std::int64_t id, std::string_view name) override {
    table("regions(id, name)");
    row(id, name);
  }
  void store(std::int64_t id, std::int64_t region_id, std::string_view name, std::string_view city) override {
    table("stores(id, region_id, name, city)");
    row(id, region_id, name, city);
  }
  void category(std::int64_t id, std::string_view name) override {
    table("categories(id, name)");
    row(id, name);
  }
  void product(std::int64_t id, std::int64_t category_id, std::string_view name, std::int64_t price_cents) override {
    table("products(id, category_id, name, price_cents)");
    row(id, category_id, name, price_cents);
  }
  void sale(const SaleRow& r) override {
    table("sales(id, sale_time, minute_of_day, store_id, product_id, quantity, unit_price_cents, amount_cents, "
          "payment_method)");
    row(r.id, r.sale_time, r.minute_of_day, r.store_id, r.product_id, r.quantity, r.unit_price_cents, r.amount_cents,
        r.payment_method);
  }
  void finish() { end_copy(); }

 private:
  void table(const char* spec) {
    if (current_ == spec) return;
    end_copy();
    PgResult r(PQexec(pg_.get(), fmt::format("COPY {} FROM STDIN", spec).c_str()));
    if (!r || PQresultStatus(r.get()) != PGRES_COPY_IN) fail(fmt::format("COPY {}", spec));
    current_ = spec;
  }
  void field(std::int64_t v) { fmt::format_to(std::back_inserter(buffer_), "{}", v); }
  void field(std::string_view text) {
    // COPY's text format: backslash, tab and newline are escaped.
    for (char c : text) {
      if (c == '\\') buffer_ += "\\\\";
      else if (c == '\t') buffer_ += "\\t";
      else if (c == '\n') buffer_ += "\\n";
      else buffer_ += c;
    }
  }
  template <class First, class... Rest>
  void row(const First& first, const Rest&... rest) {
    field(first);
    ((buffer_ += '\t', field(rest)), ...);
    buffer_ += '\n';
    if (buffer_.size() >= kCopyChunkBytes) flush();
  }
  void flush() {
    if (buffer_.empty()) return;
    if (PQputCopyData(pg_.get(), buffer_.data(), static_cast<int>(buffer_.size())) != 1) fail("COPY data");
    buffer_.clear();
  }
  void end_copy() {
    if (current_ == nullptr) return;
    flush();
    if (PQputCopyEnd(pg_.get(), nullptr) != 1) fail("COPY end");
    PgResult r(PQgetResult(pg_.get()));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail(fmt::format("COPY {}", current_));
    while (PGresult* more = PQgetResult(pg_.get())) PQclear(more);
    current_ = nullptr;
  }
  [[noreturn]] void fail(const std::string& what) {
    throw SeedError(fmt::format("seeding PostgreSQL at {} failed ({}): {}", pg_.redacted_url(), what, pg_.error_message()));
  }

  PgConnection& pg_;
  const char* current_ = nullptr;
  std::string buffer_;
};

PgConnection connect_for_seed(const std::string& url) {
  if (std::string problem = postgres_url_problem(url); !problem.empty())
    throw SeedError(fmt::format("{}: {}", redact_urls(url), problem), true);
  try {
    return PgConnection::open(url);
  } catch (const std::exception& e) {
    throw SeedError(e.what(), true);  // unreachable server, refused login: the user's to fix
  }
}

// meta as key -> value; empty when the sales tables are missing or empty.
std::vector<std::pair<std::string, std::string>> read_meta(PgConnection& pg) {
  std::vector<std::pair<std::string, std::string>> meta;
  PgResult exists = pg.query("SELECT to_regclass('meta') IS NOT NULL");
  if (std::string(PQgetvalue(exists.get(), 0, 0)) != "t") return meta;
  PgResult r = pg.query("SELECT key, value FROM meta");
  for (int i = 0; i < PQntuples(r.get()); ++i) meta.emplace_back(PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1));
  return meta;
}

std::string meta_value(const std::vector<std::pair<std::string, std::string>>& meta, std::string_view key) {
  for (auto& [k, v] : meta)
    if (k == key) return v;
  return "";
}

}  // namespace

bool postgres_is_seeded(const std::string& url) {
  PgConnection pg = connect_for_seed(url);
  try {
    auto meta = read_meta(pg);
    return meta_value(meta, "generator") == kDatabaseGenerator &&
           meta_value(meta, "schema_version") == std::to_string(kSchemaVersion);
  } catch (const std::exception& e) {
    throw SeedError(e.what());
  }
}

SeedReport seed_postgres(const PostgresSeedOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  if (options.sales < 1 || options.sales > kMaxSales)
    throw SeedError(fmt::format("sales must be between 1 and {}, got {}", kMaxSales, options.sales), true);
  PgConnection pg = connect_for_seed(options.url);
  try {
    migrate_up(options.url);
  } catch (const MigrationError& e) {
    throw SeedError(e.what());
  }
  SeedReport report;
  try {
    if (!options.force) {
      auto meta = read_meta(pg);
      if (!meta.empty())
        throw SeedError(fmt::format("PostgreSQL at {} is already seeded (seed {}, {} sales); use --force to replace its data",
                                    pg.redacted_url(), meta_value(meta, "seed"), meta_value(meta, "sales")),
                        true);
    }
    pg.exec("BEGIN");
    // Whoever seeds holds the migration lock too: two seeders never interleave.
    pg.exec("SELECT pg_advisory_xact_lock(7215001)", "taking the seed lock");
    pg.exec("TRUNCATE meta, sales, products, categories, stores, regions", "emptying the sales tables");
    pg.exec(kPostgresDropSalesIndexSql, "dropping the indexes before the bulk load");
    CopySink sink(pg);
    GeneratedData data = generate_seed_rows(sink, options.sales, options.seed);
    sink.finish();
    pg.exec(kPostgresSalesIndexSql, "building the indexes");
    report = data.report;
    const std::vector<std::pair<std::string, std::string>> meta{
        {"generator", kDatabaseGenerator},
        {"schema_version", std::to_string(kSchemaVersion)},
        {"seed", std::to_string(options.seed)},
        {"regions", std::to_string(report.regions)},
        {"stores", std::to_string(report.stores)},
        {"categories", std::to_string(report.categories)},
        {"products", std::to_string(report.products)},
        {"sales", std::to_string(report.sales)},
        {"first_sale_epoch_s", std::to_string(data.first_sale_epoch_s)},
        {"last_sale_epoch_s", std::to_string(data.last_sale_epoch_s)},
    };
    for (auto& [k, v] : meta) pg.query("INSERT INTO meta(key, value) VALUES($1, $2)", {k.c_str(), v.c_str()}, "writing meta");
    pg.exec("COMMIT");
    // Outside the transaction (VACUUM cannot run in one): the visibility map makes the heavy
    // query an index-only scan, the statistics pick its join order.
    pg.exec("VACUUM (ANALYZE) meta, regions, stores, categories, products, sales", "VACUUM ANALYZE");
  } catch (const SeedError&) {
    throw;
  } catch (const std::exception& e) {
    throw SeedError(e.what());
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace pathbench
