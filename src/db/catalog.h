// Query catalog: draws query parameters from the scenario's seed, describes the dataset.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <random>

#include "db/query.h"
#include "scenario/scenario.h"

namespace pathbench {

// Portable random draws on the raw 64-bit output of std::mt19937_64 (whose sequence the
// standard fixes). std:: distributions are implementation-defined, so using them would make
// the same seed mean different rows or queries under libstdc++ and libc++.
//
// A uniform integer in [0, bound), bound > 0: Lemire's multiply-shift with rejection (unbiased).
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t bound) noexcept {
  __extension__ using U128 = unsigned __int128;
  U128 product = U128{rng()} * bound;
  auto low = static_cast<std::uint64_t>(product);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
    while (low < threshold) {
      product = U128{rng()} * bound;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::uint64_t>(product >> 64);
}
// A uniform integer in [low, high], low <= high.
inline std::int64_t uniform_between(std::mt19937_64& rng, std::int64_t low, std::int64_t high) noexcept {
  const auto span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low) + 1;
  if (span == 0) return static_cast<std::int64_t>(rng());  // the whole int64 range
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + uniform_below(rng, span));
}
// A uniform double in [0, 1) from the top 53 bits.
inline double uniform_unit(std::mt19937_64& rng) noexcept {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// What a seeded database holds, read from its `meta` table (written by the seeder).
struct DatasetShape {
  std::int64_t sales = 0;
  std::int32_t categories = 0;
  std::int64_t first_sale_epoch_s = 0;  // inclusive
  std::int64_t last_sale_epoch_s = 0;   // inclusive
  std::uint64_t seed = 0;
};
// Opens the file read-only (or, for a postgresql:// URL, reads the server's meta table). Throws std::runtime_error naming the file when it is missing,
// not a pathbench database, or of another schema_version than kSchemaVersion (db/seeder.h).
DatasetShape read_dataset_shape(const std::filesystem::path& db_path);


// Built once per client thread; draw() is allocation free. Deterministic for a
// given rng state, config and shape, on every standard library.
// The constructor throws std::invalid_argument for a negative or non-finite weight, all
// weights zero, heavy_range_days < 1, or heavy_window_minutes outside 1..1440.
//
// draw(): the kind by weight (a zero weight is never drawn); then
//   heavy: a whole-day UTC range of heavy_range_days starting on a random day such that
//          the range lies inside [first_sale, last_sale] when the data spans enough days
//          (otherwise it starts on the first day); a category in 1..categories; a window
//          minute_from..minute_to (inclusive) of heavy_window_minutes inside 0..1439;
//   point: a sale id in 1..sales;
//   echo:  no parameters.
class QueryMix {
 public:
  QueryMix(const QueryMixConfig& config, const DatasetShape& shape);
  Query draw(std::mt19937_64& rng) const;
  bool needs_database() const noexcept;  // any non-echo weight > 0

 private:
  // implementation-defined members
  std::array<double, kAllQueryKinds.size()> cumulative_weight_{};  // in kAllQueryKinds order
  QueryKind last_positive_kind_ = QueryKind::echo;  // guards rounding at the top of the range
  std::int64_t first_day_ = 0;         // days since the epoch of the first sale
  std::int64_t start_day_choices_ = 1;  // heavy start days to choose from
  std::int64_t range_s_ = 0;
  std::int32_t window_minutes_ = 0;
  std::int32_t categories_ = 0;
  std::int64_t sales_ = 0;
};

}  // namespace pathbench
