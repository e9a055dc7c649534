// The seed data's generator, shared by both databases' seeders (db/seeder.cpp for SQLite,
// db/pg_seeder.cpp for PostgreSQL): the same seed and count give the same rows, in the same
// order, to whichever sink writes them. All randomness is std::mt19937_64 through the portable
// draws of db/catalog.h; no floating point enters a row. The rows are described in
// db/seeder.h. Single-threaded; the sink may throw, and the exception passes through.
#pragma once
#include <cstdint>
#include <string_view>

#include "db/seeder.h"

namespace pathbench {

struct SaleRow {
  std::int64_t id, sale_time, minute_of_day, store_id, product_id, quantity, unit_price_cents, amount_cents;
  std::string_view payment_method;  // a string literal
};

// Receives every row, table by table in this order: regions, stores, categories, products,
// sales (ids ascending within each). The string_views live until the call returns.
class SeedSink {
 public:
  virtual ~SeedSink() = default;
  virtual void region(std::int64_t id, std::string_view name) = 0;
  virtual void store(std::int64_t id, std::int64_t region_id, std::string_view name, std::string_view city) = 0;
  virtual void category(std::int64_t id, std::string_view name) = 0;
  virtual void product(std::int64_t id, std::int64_t category_id, std::string_view name, std::int64_t price_cents) = 0;
  virtual void sale(const SaleRow& row) = 0;
};

struct GeneratedData {
  SeedReport report;  // counts (seconds left 0)
  std::int64_t first_sale_epoch_s = 0, last_sale_epoch_s = 0;
};

// Feeds `sales` sales (1..100'000'000, checked by the caller) and the reference data of `seed`.
GeneratedData generate_seed_rows(SeedSink& sink, std::int64_t sales, std::uint64_t seed);

}  // namespace pathbench
