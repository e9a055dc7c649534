#include "db/catalog.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/std.h>

#include "core/url.h"
#include "db/pg_connection.h"
#include "db/seeder.h"  // kSchemaVersion, kDatabaseGenerator
#include "db/sqlite_handle.h"

namespace pathbench {
namespace {

constexpr std::int64_t kSecondsPerDay = 86'400;
constexpr std::int32_t kMinutesPerDay = 1'440;

// Days since the epoch; read_dataset_shape guarantees epoch_s >= 0.
std::int64_t day_of(std::int64_t epoch_s) { return epoch_s / kSecondsPerDay; }

class MetaReader {
 public:
  explicit MetaReader(const std::filesystem::path& path) : path_(path) {
    if (is_postgres_url(path.native())) {
      // PostgreSQL: the whole table at once (a dozen rows), then served from memory.
      PgConnection pg;
      try {
        pg = PgConnection::open(path.native());
        PgResult r = pg.query("SELECT key, value FROM meta", {}, "reading meta");
        for (int i = 0; i < PQntuples(r.get()); ++i) pg_meta_.emplace_back(PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1));
      } catch (const std::exception& e) {
        fail(e.what());
      }
      is_postgres_ = true;
      return;
    }
    if (!std::filesystem::exists(path)) {
      throw std::runtime_error(fmt::format("{} does not exist; create it with `pathbench seed`", path));
    }
    std::string why;
    db_ = SqliteConnection::open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, why);
    if (!db_) fail(why);
    // "file is not a database" and "no such table: meta" both surface here.
    stmt_ = SqliteStatement::prepare(db_, "SELECT value FROM meta WHERE key = ?1");
    if (!stmt_) fail(db_.error_message());
  }

  std::optional<std::string> find(const char* key) {
    if (is_postgres_) {
      for (auto& [k, v] : pg_meta_)
        if (k == key) return v;
      return std::nullopt;
    }
    sqlite3_stmt* stmt = stmt_.get();
    sqlite3_reset(stmt);
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) return std::nullopt;
    if (rc != SQLITE_ROW) fail(db_.error_message());
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    return std::string(text ? text : "");
  }
  std::string text(const char* key) {
    auto value = find(key);
    if (!value) fail(fmt::format("meta has no '{}'", key));
    return *value;
  }
  template <class Int>
  Int integer(const char* key, Int min_value) {
    const std::string value = text(key);
    Int parsed{};
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (ec != std::errc{} || end != value.data() + value.size() || parsed < min_value) {
      fail(fmt::format("meta '{}' is '{}', not an integer >= {}", key, value, min_value));
    }
    return parsed;
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error(
        fmt::format("{} is not a usable pathbench database ({}); recreate it with `pathbench seed --force`",
                    redact_urls(path_.native()), redact_urls(why)));
  }

 private:
  std::filesystem::path path_;
  bool is_postgres_ = false;
  std::vector<std::pair<std::string, std::string>> pg_meta_;  // PostgreSQL: every meta row
  SqliteConnection db_;  // declared first: closed after the statement
  SqliteStatement stmt_;
};

}  // namespace

DatasetShape read_dataset_shape(const std::filesystem::path& db_path) {
  MetaReader meta(db_path);
  if (meta.find("generator") != std::optional<std::string>(kDatabaseGenerator)) {
    meta.fail("meta has no generator 'pathbench'");
  }
  const auto version = meta.integer<std::int64_t>("schema_version", 0);
  if (version != kSchemaVersion) {
    meta.fail(fmt::format("schema_version {}, this build reads {}", version, kSchemaVersion));
  }
  DatasetShape shape;
  shape.sales = meta.integer<std::int64_t>("sales", 1);
  shape.categories = meta.integer<std::int32_t>("categories", 1);
  shape.first_sale_epoch_s = meta.integer<std::int64_t>("first_sale_epoch_s", 0);
  shape.last_sale_epoch_s = meta.integer<std::int64_t>("last_sale_epoch_s", shape.first_sale_epoch_s);
  shape.seed = meta.integer<std::uint64_t>("seed", 0);
  return shape;
}

QueryMix::QueryMix(const QueryMixConfig& config, const DatasetShape& shape) {
  const std::array<double, kAllQueryKinds.size()> weights{config.echo_weight, config.point_weight,
                                                          config.heavy_weight};
  static_assert(kAllQueryKinds[0] == QueryKind::echo && kAllQueryKinds[1] == QueryKind::point &&
                kAllQueryKinds[2] == QueryKind::heavy);
  double total = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i]) || weights[i] < 0) {
      throw std::invalid_argument(fmt::format("query weight of {} must be a finite number >= 0, got {}",
                                              to_string(kAllQueryKinds[i]), weights[i]));
    }
    total += weights[i];
    cumulative_weight_[i] = total;
    if (weights[i] > 0) last_positive_kind_ = kAllQueryKinds[i];
  }
  if (!(total > 0) || !std::isfinite(total)) {
    throw std::invalid_argument("query weights must not all be zero");
  }
  // Normalised once so draw() compares a [0, 1) uniform directly.
  for (double& c : cumulative_weight_) c /= total;

  if (config.heavy_range_days < 1) {
    throw std::invalid_argument(fmt::format("heavy_range_days must be >= 1, got {}", config.heavy_range_days));
  }
  if (config.heavy_window_minutes < 1 || config.heavy_window_minutes > kMinutesPerDay) {
    throw std::invalid_argument(
        fmt::format("heavy_window_minutes must be in 1..1440, got {}", config.heavy_window_minutes));
  }
  if (config.point_weight > 0 && shape.sales < 1) {
    throw std::invalid_argument("point queries need a database with at least one sale");
  }
  if (config.heavy_weight > 0 && (shape.categories < 1 || shape.last_sale_epoch_s < shape.first_sale_epoch_s)) {
    throw std::invalid_argument("heavy queries need a database with categories and sales");
  }

  first_day_ = day_of(shape.first_sale_epoch_s);
  const std::int64_t data_days = day_of(shape.last_sale_epoch_s) - first_day_ + 1;
  start_day_choices_ = data_days >= config.heavy_range_days ? data_days - config.heavy_range_days + 1 : 1;
  range_s_ = config.heavy_range_days * kSecondsPerDay;
  window_minutes_ = config.heavy_window_minutes;
  categories_ = shape.categories;
  sales_ = shape.sales;
}

Query QueryMix::draw(std::mt19937_64& rng) const {
  Query query;
  // Weighted choice by cumulative share on one uniform double: IEEE arithmetic, so the same
  // rng state picks the same kind on every platform. A zero weight adds an empty interval.
  const double u = uniform_unit(rng);
  query.kind = last_positive_kind_;
  for (std::size_t i = 0; i < cumulative_weight_.size(); ++i) {
    if (u < cumulative_weight_[i]) {
      query.kind = kAllQueryKinds[i];
      break;
    }
  }
  switch (query.kind) {
    case QueryKind::echo:
      break;
    case QueryKind::point:
      query.sale_id = 1 + static_cast<std::int64_t>(uniform_below(rng, static_cast<std::uint64_t>(sales_)));
      break;
    case QueryKind::heavy: {
      const auto day = first_day_ + static_cast<std::int64_t>(
                                        uniform_below(rng, static_cast<std::uint64_t>(start_day_choices_)));
      query.from_epoch_s = day * kSecondsPerDay;
      query.to_epoch_s = query.from_epoch_s + range_s_;
      query.category_id = 1 + static_cast<std::int32_t>(uniform_below(rng, static_cast<std::uint64_t>(categories_)));
      query.minute_from = static_cast<std::int32_t>(
          uniform_below(rng, static_cast<std::uint64_t>(kMinutesPerDay - window_minutes_ + 1)));
      query.minute_to = query.minute_from + window_minutes_ - 1;
      break;
    }
  }
  return query;
}

bool QueryMix::needs_database() const noexcept {
  return last_positive_kind_ != QueryKind::echo;  // echo comes first in kAllQueryKinds
}

}  // namespace pathbench
