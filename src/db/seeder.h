// Builds the sales database deterministically from a seed.
// Called by `pathbench seed` and by `pathbench run` when the scenario's database is missing.
#pragma once
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace pathbench {

// Written into the database's `meta` table; readers refuse any other schema_version.
inline constexpr std::int64_t kSchemaVersion = 1;
inline constexpr const char* kDatabaseGenerator = "pathbench";

struct SeedOptions {
  std::filesystem::path db_path;
  std::int64_t sales = 100'000;
  std::uint64_t seed = 42;
  bool force = false;  // overwrite an existing file
};

struct SeedReport {
  std::int64_t regions = 0, stores = 0, categories = 0, products = 0, sales = 0;
  double seconds = 0;
};

// A refusal or failure the user can act on: bad_input for what the request itself got wrong (file
// exists without force, bad count, no path), false for a failure while doing it (I/O, SQLite).
struct SeedError : std::runtime_error {
  explicit SeedError(const std::string& what, bool bad_input_ = false) : std::runtime_error(what), bad_input(bad_input_) {}
  bool bad_input = false;
};

// Same options => byte-for-byte the same rows (and, with one SQLite version, the same file),
// on every platform: all randomness is std::mt19937_64 through the portable draws of
// db/catalog.h. Schema (schema_version 1):
//   regions(id, name)  stores(id, region_id, name, city)  categories(id, name)
//   products(id, category_id, name, price_cents)
//   sales(id, sale_time epoch s UTC, minute_of_day 0..1439, store_id, product_id, quantity,
//         unit_price_cents, amount_cents = quantity * unit_price_cents, payment_method)
//   meta(key, value): generator, schema_version, seed, regions, stores, categories,
//         products, sales, first_sale_epoch_s, last_sale_epoch_s
// 8 regions, 50 stores, 12 categories, 360 products; sales over 2024-01-01..2025-12-31 UTC,
// busier by day, at weekends and in December; ids 1..sales in sale_time order.
// Indexes: products(category_id), sales(product_id, sale_time, minute_of_day, amount_cents).
// The file is left in rollback (DELETE) journal mode.
//
// Builds `<db_path>.tmp-<pid>` and renames it into place (creating missing parent
// directories), so a failed seed never leaves a half database under db_path; a process
// killed mid-seed can leave only its .tmp-<pid> file behind. Throws SeedError when db_path
// exists and force is false (the message names it and suggests --force), when db_path is
// not a regular file, when sales is outside 1..100'000'000, or on any I/O or SQLite failure.
SeedReport seed_database(const SeedOptions& options);

// The same rows into a PostgreSQL server (db/pg_seeder.cpp): applies the migrations
// (db/migrations.h), then in one transaction empties the sales tables, drops their indexes,
// bulk-loads every table with COPY, rebuilds the indexes and writes meta (values as text);
// then VACUUM ANALYZE, so the heavy query's index-only scan and join order match SQLite's.
// Throws SeedError: bad_input for a bad URL, a refused connection or login, or a server that
// is already seeded when force is false (the message names the seed and count found); false
// for a failure while loading. Messages never contain the URL's password.
struct PostgresSeedOptions {
  std::string url;  // postgresql://...
  std::int64_t sales = 100'000;
  std::uint64_t seed = 42;
  bool force = false;  // replace the data of a seeded server
};
SeedReport seed_postgres(const PostgresSeedOptions& options);
// True when the server at `url` holds a pathbench catalog of this schema_version (whatever its
// seed and size: a run uses an existing one as it uses an existing SQLite file). Throws
// SeedError as seed_postgres does for a URL it cannot reach or log in to.
bool postgres_is_seeded(const std::string& url);

}  // namespace pathbench
