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

#include "db/catalog.h"  // uniform_below: portable draws, shared with the query mix
#include "db/sqlite_handle.h"

namespace pathbench {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kMaxSales = 100'000'000;
constexpr std::int64_t kSecondsPerDay = 86'400;
// 2024-01-01T00:00:00Z .. 2025-12-31T23:59:59Z: two whole years, 2024 a leap year.
constexpr std::int64_t kFirstDayEpochS = 1'704'067'200;
constexpr std::int64_t kDays = 731;
constexpr int kStores = 50;
constexpr int kProducts = 360;

// ---------------------------------------------------------------------------------------------
// Reference data. Fixed tables rather than generated strings so the database reads like a
// shop's and so a name never depends on anything but its position.

struct RegionInfo {
  std::string_view name;
  std::array<std::string_view, 5> cities;
};
constexpr std::array<RegionInfo, 8> kRegions{{
    {"North America East", {"New York", "Boston", "Toronto", "Atlanta", "Miami"}},
    {"North America West", {"Seattle", "San Francisco", "Los Angeles", "Denver", "Vancouver"}},
    {"Latin America", {"Mexico City", "Sao Paulo", "Buenos Aires", "Bogota", "Santiago"}},
    {"Western Europe", {"London", "Paris", "Madrid", "Amsterdam", "Milan"}},
    {"Central & Northern Europe", {"Berlin", "Stockholm", "Warsaw", "Vienna", "Copenhagen"}},
    {"Middle East & Africa", {"Dubai", "Istanbul", "Cairo", "Lagos", "Johannesburg"}},
    {"South Asia", {"Mumbai", "Delhi", "Bengaluru", "Karachi", "Dhaka"}},
    {"East Asia & Pacific", {"Tokyo", "Seoul", "Singapore", "Sydney", "Shanghai"}},
}};

constexpr std::array<std::string_view, 8> kStoreKinds{
    "Central", "Mall", "Airport", "Station", "Outlet", "Harbour", "Market", "Plaza"};

struct CategoryInfo {
  std::string_view name;
  std::int64_t min_price_cents, max_price_cents;
  std::array<std::string_view, 6> items;
};
constexpr std::array<CategoryInfo, 12> kCategories{{
    {"Electronics", 1'499, 129'999, {"Headphones", "Charger", "Speaker", "Monitor", "Keyboard", "Tablet"}},
    {"Groceries", 99, 2'499, {"Coffee", "Olive Oil", "Pasta", "Rice", "Tea", "Chocolate"}},
    {"Clothing", 999, 19'999, {"T-Shirt", "Jeans", "Jacket", "Sweater", "Dress", "Sneakers"}},
    {"Home & Kitchen", 499, 49'999, {"Pan", "Knife Set", "Blender", "Towel", "Lamp", "Kettle"}},
    {"Sports & Outdoors", 799, 89'999, {"Yoga Mat", "Tent", "Bicycle", "Dumbbell", "Backpack", "Ball"}},
    {"Toys & Games", 499, 14'999, {"Puzzle", "Board Game", "Doll", "Building Set", "Kite", "Robot"}},
    {"Beauty & Personal Care", 299, 9'999, {"Shampoo", "Lotion", "Perfume", "Razor", "Lipstick", "Soap"}},
    {"Books", 599, 5'999, {"Novel", "Cookbook", "Atlas", "Biography", "Comic", "Guide"}},
    {"Automotive", 699, 39'999, {"Wiper", "Motor Oil", "Floor Mat", "Jump Starter", "Tyre Gauge", "Car Wax"}},
    {"Garden", 399, 59'999, {"Hose", "Seeds", "Planter", "Shears", "Lawn Mower", "Fertilizer"}},
    {"Office Supplies", 149, 29'999, {"Notebook", "Pen Set", "Stapler", "Desk Chair", "Printer Paper", "Folder"}},
    {"Pet Supplies", 299, 12'999, {"Dog Food", "Cat Litter", "Leash", "Pet Bed", "Aquarium", "Chew Toy"}},
}};

constexpr std::array<std::string_view, 8> kBrands{
    "Acme", "Northwind", "Contoso", "Globex", "Initech", "Umbra", "Vertex", "Solace"};

// Retail shape of a day in UTC: quiet at night, a lunch peak and a larger evening peak.
constexpr std::array<std::uint64_t, 24> kHourWeight{
    2, 1, 1, 1, 1, 2, 4, 8, 14, 22, 30, 38, 46, 42, 36, 34, 38, 46, 50, 44, 32, 20, 10, 5};

struct Weighted {
  std::string_view name;
  std::uint64_t weight;
};
constexpr std::array<Weighted, 4> kPaymentMethods{
    {{"card", 55}, {"cash", 20}, {"mobile", 20}, {"gift_card", 5}}};
constexpr std::array<std::uint64_t, 5> kQuantityWeight{55, 22, 11, 7, 5};  // quantity 1..5
constexpr std::uint64_t kDiscountPercentChance = 8;  // of sales sold at 10 % off

// ---------------------------------------------------------------------------------------------
// Weighted choice on integer weights: exact, so no floating point enters the rows.

class CumulativeWeights {
 public:
  template <class Range>
  explicit CumulativeWeights(const Range& weights) {
    std::uint64_t total = 0;
    for (std::uint64_t w : weights) cumulative_.push_back(total += w);
  }
  std::uint64_t total() const noexcept { return cumulative_.back(); }
  std::uint64_t before(std::size_t i) const noexcept { return i == 0 ? 0 : cumulative_[i - 1]; }
  std::size_t draw(std::mt19937_64& rng) const noexcept {
    const std::uint64_t x = uniform_below(rng, total());
    return static_cast<std::size_t>(
        std::upper_bound(cumulative_.begin(), cumulative_.end(), x) - cumulative_.begin());
  }

 private:
  std::vector<std::uint64_t> cumulative_;
};

template <std::size_t N>
std::array<std::uint64_t, N> payment_weights() {
  std::array<std::uint64_t, N> w{};
  for (std::size_t i = 0; i < N; ++i) w[i] = kPaymentMethods[i].weight;
  return w;
}

// Relative busyness of a day: weekends and the run-up to the holidays sell more, and the
// second year grows a little, so date ranges differ in a plausible way.
std::uint64_t day_weight(std::int64_t day_index) {
  using namespace std::chrono;
  const sys_days day{days{kFirstDayEpochS / kSecondsPerDay + day_index}};
  const unsigned weekday_index = weekday{day}.c_encoding();  // 0 = Sunday
  const year_month_day ymd{day};
  static constexpr std::array<std::uint64_t, 7> kWeekdayPercent{125, 90, 92, 95, 100, 115, 135};  // Sun..Sat
  static constexpr std::array<std::uint64_t, 12> kMonthPercent{85, 85, 95, 100, 100, 100,
                                                               100, 105, 100, 100, 115, 140};
  const std::uint64_t year_percent = ymd.year() == year{2024} ? 100 : 108;
  return kWeekdayPercent[weekday_index] * kMonthPercent[static_cast<unsigned>(ymd.month()) - 1] * year_percent;
}

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

// The schema. `sales` is append-only in id order with ids in sale_time order, like a real
// till log. The one secondary index on sales is built for the heavy query: it seeks each
// product of the category, reads only the 30-day slice of that product, and finds
// minute_of_day and amount_cents in the index itself, so the 1 M-row table is never touched.
// Indexing sale_time alone would read every sale in the range (12x more) plus the table rows.
constexpr const char* kSchemaSql = R"sql(
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
constexpr const char* kIndexSql = R"sql(
CREATE INDEX products_by_category ON products(category_id);
CREATE INDEX sales_by_product_time ON sales(product_id, sale_time, minute_of_day, amount_cents);
)sql";

struct Product {
  std::int64_t price_cents;
};

struct Builder {
  Connection& db;
  std::mt19937_64 rng;
  SeedReport report;
  std::vector<Product> products;                 // index = id - 1
  std::vector<std::uint64_t> product_weight;     // popularity
  std::vector<std::uint64_t> store_weight;       // size of the store

  void reference_data() {
    Statement insert_region(db, "INSERT INTO regions(id, name) VALUES(?1, ?2)");
    for (std::size_t i = 0; i < kRegions.size(); ++i) {
      insert_region.bind(1, static_cast<std::int64_t>(i + 1)).bind_static(2, kRegions[i].name).run();
    }
    report.regions = static_cast<std::int64_t>(kRegions.size());

    Statement insert_store(db, "INSERT INTO stores(id, region_id, name, city) VALUES(?1, ?2, ?3, ?4)");
    for (int id = 1; id <= kStores; ++id) {
      const auto region = uniform_below(rng, kRegions.size());
      const auto city = kRegions[region].cities[uniform_below(rng, kRegions[region].cities.size())];
      const auto kind = kStoreKinds[uniform_below(rng, kStoreKinds.size())];
      insert_store.bind(1, id)
          .bind(2, static_cast<std::int64_t>(region + 1))
          .bind_copy(3, fmt::format("{} {} #{}", city, kind, id))
          .bind_static(4, city)
          .run();
      store_weight.push_back(1 + uniform_below(rng, 10));
    }
    report.stores = kStores;

    Statement insert_category(db, "INSERT INTO categories(id, name) VALUES(?1, ?2)");
    for (std::size_t i = 0; i < kCategories.size(); ++i) {
      insert_category.bind(1, static_cast<std::int64_t>(i + 1)).bind_static(2, kCategories[i].name).run();
    }
    report.categories = static_cast<std::int64_t>(kCategories.size());

    Statement insert_product(db, "INSERT INTO products(id, category_id, name, price_cents) VALUES(?1, ?2, ?3, ?4)");
    for (int id = 1; id <= kProducts; ++id) {
      // Products cycle through the categories, so every category has the same number.
      const auto category_index = static_cast<std::size_t>(id - 1) % kCategories.size();
      const CategoryInfo& info = kCategories[category_index];
      const auto item = info.items[uniform_below(rng, info.items.size())];
      const auto brand = kBrands[uniform_below(rng, kBrands.size())];
      // Prices end in 99 cents, as shop prices do.
      const std::int64_t dollars = uniform_between(rng, info.min_price_cents / 100, info.max_price_cents / 100);
      const std::int64_t price_cents = dollars * 100 + 99;
      insert_product.bind(1, id)
          .bind(2, static_cast<std::int64_t>(category_index + 1))
          .bind_copy(3, fmt::format("{} {} {}", brand, item, 100 + uniform_below(rng, 900)))
          .bind(4, price_cents)
          .run();
      products.push_back({price_cents});
      // A long tail: a few products sell far more than most.
      product_weight.push_back(uniform_below(rng, 8) == 0 ? 20 + uniform_below(rng, 40) : 1 + uniform_below(rng, 10));
    }
    report.products = kProducts;
  }

  // Sales go in day by day, sorted by time within the day, so ids follow sale_time.
  // Each day's count is its exact share of the total by day weight (integer arithmetic:
  // the total is exact and no floating point can differ between machines).
  void sales(std::int64_t total_sales, std::int64_t& first_sale_s, std::int64_t& last_sale_s) {
    std::vector<std::uint64_t> day_weights(kDays);
    for (std::int64_t d = 0; d < kDays; ++d) day_weights[static_cast<std::size_t>(d)] = day_weight(d);
    const CumulativeWeights days(day_weights);
    const CumulativeWeights hours(kHourWeight);
    const CumulativeWeights stores(store_weight);
    const CumulativeWeights popular(product_weight);
    const CumulativeWeights quantities(kQuantityWeight);
    const CumulativeWeights payments(payment_weights<kPaymentMethods.size()>());

    Statement insert(db,
                     "INSERT INTO sales(id, sale_time, minute_of_day, store_id, product_id, quantity,"
                     " unit_price_cents, amount_cents, payment_method) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)");
    const auto total = static_cast<std::uint64_t>(total_sales);
    std::vector<std::int64_t> seconds_of_day;
    std::int64_t id = 0;
    first_sale_s = 0;
    last_sale_s = 0;
    for (std::int64_t d = 0; d < kDays; ++d) {
      // total <= 1e8 and the weight sum is ~1e9, so the products fit in 64 bits.
      const auto i = static_cast<std::size_t>(d);
      const std::uint64_t today = total * days.before(i + 1) / days.total() - total * days.before(i) / days.total();
      seconds_of_day.clear();
      for (std::uint64_t k = 0; k < today; ++k) {
        const auto hour = static_cast<std::int64_t>(hours.draw(rng));
        seconds_of_day.push_back(hour * 3600 + static_cast<std::int64_t>(uniform_below(rng, 3600)));
      }
      std::sort(seconds_of_day.begin(), seconds_of_day.end());
      const std::int64_t day_start_s = kFirstDayEpochS + d * kSecondsPerDay;
      for (std::int64_t second : seconds_of_day) {
        const std::int64_t sale_time = day_start_s + second;
        const auto store_id = static_cast<std::int64_t>(stores.draw(rng)) + 1;
        const auto product_index = popular.draw(rng);
        const auto quantity = static_cast<std::int64_t>(quantities.draw(rng)) + 1;
        std::int64_t unit_price_cents = products[product_index].price_cents;
        if (uniform_below(rng, 100) < kDiscountPercentChance) unit_price_cents = unit_price_cents * 90 / 100;
        const auto payment = kPaymentMethods[payments.draw(rng)].name;
        insert.bind(1, ++id)
            .bind(2, sale_time)
            .bind(3, second / 60)
            .bind(4, store_id)
            .bind(5, static_cast<std::int64_t>(product_index) + 1)
            .bind(6, quantity)
            .bind(7, unit_price_cents)
            .bind(8, quantity * unit_price_cents)
            .bind_static(9, payment)
            .run();
        if (id == 1) first_sale_s = sale_time;
        last_sale_s = sale_time;
      }
    }
    report.sales = id;
  }

  void meta(std::uint64_t seed, std::int64_t first_sale_s, std::int64_t last_sale_s) {
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
};

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
  db.exec(kSchemaSql);
  Builder builder{db, std::mt19937_64(options.seed), {}, {}, {}, {}};
  builder.reference_data();
  std::int64_t first_sale_s = 0, last_sale_s = 0;
  builder.sales(options.sales, first_sale_s, last_sale_s);
  db.exec(kIndexSql);
  builder.meta(options.seed, first_sale_s, last_sale_s);
  // Statistics let the planner pick the covering index over a scan of sales for the
  // heavy query's join order, whatever the data size.
  db.exec("ANALYZE");
  db.exec("COMMIT");
  db.close();
  report = builder.report;
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
