#include "db/seed_generator.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "db/catalog.h"  // uniform_below: portable draws, shared with the query mix

namespace pathbench {
namespace {

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

struct Product {
  std::int64_t price_cents;
};

struct Builder {
  SeedSink& sink;
  std::mt19937_64 rng;
  SeedReport report;
  std::vector<Product> products;                 // index = id - 1
  std::vector<std::uint64_t> product_weight;     // popularity
  std::vector<std::uint64_t> store_weight;       // size of the store

  void reference_data() {
    for (std::size_t i = 0; i < kRegions.size(); ++i) sink.region(static_cast<std::int64_t>(i + 1), kRegions[i].name);
    report.regions = static_cast<std::int64_t>(kRegions.size());

    for (int id = 1; id <= kStores; ++id) {
      const auto region = uniform_below(rng, kRegions.size());
      const auto city = kRegions[region].cities[uniform_below(rng, kRegions[region].cities.size())];
      const auto kind = kStoreKinds[uniform_below(rng, kStoreKinds.size())];
      sink.store(id, static_cast<std::int64_t>(region + 1), fmt::format("{} {} #{}", city, kind, id), city);
      store_weight.push_back(1 + uniform_below(rng, 10));
    }
    report.stores = kStores;

    for (std::size_t i = 0; i < kCategories.size(); ++i)
      sink.category(static_cast<std::int64_t>(i + 1), kCategories[i].name);
    report.categories = static_cast<std::int64_t>(kCategories.size());

    for (int id = 1; id <= kProducts; ++id) {
      // Products cycle through the categories, so every category has the same number.
      const auto category_index = static_cast<std::size_t>(id - 1) % kCategories.size();
      const CategoryInfo& info = kCategories[category_index];
      const auto item = info.items[uniform_below(rng, info.items.size())];
      const auto brand = kBrands[uniform_below(rng, kBrands.size())];
      // Prices end in 99 cents, as shop prices do.
      const std::int64_t dollars = uniform_between(rng, info.min_price_cents / 100, info.max_price_cents / 100);
      const std::int64_t price_cents = dollars * 100 + 99;
      sink.product(id, static_cast<std::int64_t>(category_index + 1),
                   fmt::format("{} {} {}", brand, item, 100 + uniform_below(rng, 900)), price_cents);
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
        sink.sale({++id, sale_time, second / 60, store_id, static_cast<std::int64_t>(product_index) + 1, quantity,
                   unit_price_cents, quantity * unit_price_cents, payment});
        if (id == 1) first_sale_s = sale_time;
        last_sale_s = sale_time;
      }
    }
    report.sales = id;
  }
};

}  // namespace

GeneratedData generate_seed_rows(SeedSink& sink, std::int64_t sales, std::uint64_t seed) {
  Builder builder{sink, std::mt19937_64(seed), {}, {}, {}, {}};
  builder.reference_data();
  GeneratedData data;
  builder.sales(sales, data.first_sale_epoch_s, data.last_sale_epoch_s);
  data.report = builder.report;
  return data;
}

}  // namespace pathbench
