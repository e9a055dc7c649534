// Exact histogram encoding for load agents: what an agent sends decodes to the same histogram,
// and merging decoded parts equals merging the originals (the coordinator's exact merge).
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/histogram.h"

namespace {

using pathbench::Histogram;

std::vector<std::pair<std::int64_t, std::int64_t>> buckets(const Histogram& h) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  h.for_each_recorded([&](std::int64_t v, std::int64_t c) { out.emplace_back(v, c); });
  return out;
}

void check_equal(const Histogram& a, const Histogram& b) {
  CHECK(a.highest_trackable() == b.highest_trackable());
  CHECK(a.significant_digits() == b.significant_digits());
  CHECK(a.total_count() == b.total_count());
  CHECK(a.saturated() == b.saturated());
  CHECK(a.min() == b.min());
  CHECK(a.max() == b.max());
  CHECK(buckets(a) == buckets(b));
  for (double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0})
    CHECK(a.value_at_percentile(p) == b.value_at_percentile(p));
  CHECK(a.mean() == b.mean());
}

Histogram random_histogram(std::uint64_t seed, int n, std::int64_t highest = Histogram::kDefaultHighest, int digits = 3) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> d(12.0, 1.5);
  Histogram h(highest, digits);
  for (int i = 0; i < n; ++i) h.record(static_cast<std::int64_t>(d(rng)));
  return h;
}

}  // namespace

TEST_CASE("histogram encode/decode round-trips every bucket, min, max, saturated and percentiles") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    Histogram h = random_histogram(seed, 20'000);
    h.record(Histogram::kDefaultHighest + 5);  // saturated
    h.record(0);
    const std::string bytes = h.encode();
    auto decoded = Histogram::decode(bytes);
    REQUIRE(decoded.has_value());
    check_equal(h, *decoded);
    CHECK(decoded->encode() == bytes);
  }
  // Compact: far smaller than the bucket array, even for a wide spread (about 3 bytes per used bucket).
  Histogram h = random_histogram(7, 100'000);
  CHECK(h.encode().size() < h.bucket_memory_bytes() / 8);

  Histogram empty;
  auto e = Histogram::decode(empty.encode());
  REQUIRE(e.has_value());
  check_equal(empty, *e);
  e->record(17);  // a decoded empty histogram records like a new one
  CHECK(e->min() == 17);

  Histogram other_layout = random_histogram(9, 1000, 1'000'000, 2);
  auto o = Histogram::decode(other_layout.encode());
  REQUIRE(o.has_value());
  check_equal(other_layout, *o);
}

TEST_CASE("histogram decode refuses bytes that are not an encoding") {
  Histogram h = random_histogram(4, 1000);
  const std::string bytes = h.encode();
  CHECK_FALSE(Histogram::decode("").has_value());
  CHECK_FALSE(Histogram::decode(bytes.substr(0, bytes.size() - 1)).has_value());
  CHECK_FALSE(Histogram::decode(bytes + std::string(1, '\x01')).has_value());
  std::string wrong_digits = bytes;
  wrong_digits[6] = 9;  // highest (6 varint bytes for 3.6e12) then significant digits
  CHECK_FALSE(Histogram::decode(wrong_digits).has_value());
  CHECK_FALSE(Histogram::decode(std::string(12, '\xff')).has_value());
}

TEST_CASE("merging decoded parts equals merging the originals") {
  std::vector<Histogram> parts;
  for (std::uint64_t seed = 10; seed < 14; ++seed) parts.push_back(random_histogram(seed, 5000 + static_cast<int>(seed)));
  Histogram direct, via_bytes;
  for (auto& p : parts) {
    direct.merge(p);
    auto d = Histogram::decode(p.encode());
    REQUIRE(d.has_value());
    via_bytes.merge(*d);
  }
  check_equal(direct, via_bytes);
}
