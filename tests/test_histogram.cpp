// Known-answer tests for Histogram and the .hgrm writer. The coordinated-omission
// data set and its expected percentiles, mean and standard deviation are the ones
// HdrHistogram's own tests use (HdrHistogram_c test/hdr_histogram_test.c and the Java
// HistogramTest); the .hgrm rows quoted below were produced by HdrHistogram_c 0.11.10's
// hdr_percentiles_print for the same samples (values, percentiles and counts agree;
// the column layout is the Java/.hgrm one).
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

// GCC 12's libstdc++ <regex> trips a false -Wmaybe-uninitialized inside std::function
// when optimising with sanitizers (reproducible with a one-line regex_match). The
// pragma covers only the standard headers, which must come first for it to apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <functional>
#include <regex>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/histogram.h"
#include "report/hgrm.h"

namespace {

using pathbench::Histogram;
using Buckets = std::vector<std::pair<std::int64_t, std::int64_t>>;

constexpr std::int64_t kInterval = 10'000;
constexpr std::int64_t kStall = 100'000'000;

// 10,000 samples of 1,000 plus one stall of 100,000,000, one sample expected every 10,000.
Histogram raw_histogram() {
  Histogram h(Histogram::kDefaultHighest, 3);
  for (int i = 0; i < 10'000; ++i) h.record(1'000);
  h.record(kStall);
  return h;
}

Histogram corrected_histogram() {
  Histogram h(Histogram::kDefaultHighest, 3);
  for (int i = 0; i < 10'000; ++i) h.record_corrected(1'000, kInterval);
  h.record_corrected(kStall, kInterval);
  return h;
}

Buckets buckets_of(const Histogram& h) {
  Buckets out;
  h.for_each_recorded([&](std::int64_t value, std::int64_t count) { out.emplace_back(value, count); });
  return out;
}

// Within the histogram's precision: 3 significant digits means 0.1%.
bool within_precision(std::int64_t actual, double expected, double relative = 0.001) {
  return std::abs(static_cast<double>(actual) - expected) <= expected * relative;
}

// Reference percentile: the ceil(p/100 * n)-th smallest sample (at least the first).
std::int64_t rank_value(std::vector<std::int64_t> sorted, double percentile) {
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(percentile / 100.0 * n - 1e-9));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

std::vector<std::int64_t> log_uniform_values(std::size_t n, double low, double high,
                                             std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> exponent(std::log(low), std::log(high));
  std::vector<std::int64_t> values(n);
  for (auto& v : values) v = static_cast<std::int64_t>(std::exp(exponent(rng)));
  return values;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("Histogram geometry matches HdrHistogram's bucket configuration") {
  // HdrHistogram_c test_create: 1 .. 3,600,000,000 at 3 digits -> counts_len 23552.
  const Histogram hour_in_us(3'600'000'000, 3);
  CHECK(hour_in_us.bucket_memory_bytes() == 23'552 * sizeof(std::int64_t));
  CHECK(hour_in_us.sub_bucket_count() == 2048);

  const Histogram defaults;  // 1 ns .. 1 h at 3 digits
  CHECK(defaults.highest_trackable() == 3'600'000'000'000);
  CHECK(defaults.significant_digits() == 3);
  CHECK(defaults.bucket_count() == 32);
  CHECK(defaults.sub_bucket_count() == 2048);
  CHECK(defaults.bucket_memory_bytes() == 33 * 1024 * sizeof(std::int64_t));

  // sub_bucket_count = 2^ceil(log2(2 * 10^digits)).
  CHECK(Histogram(1'000'000, 1).sub_bucket_count() == 32);
  CHECK(Histogram(1'000'000, 2).sub_bucket_count() == 256);
  CHECK(Histogram(1'000'000, 4).sub_bucket_count() == 32'768);
  CHECK(Histogram(1'000'000, 5).sub_bucket_count() == 262'144);

  // The full int64 range is representable without overflow.
  Histogram widest(std::numeric_limits<std::int64_t>::max(), 3);
  widest.record(std::numeric_limits<std::int64_t>::max());
  CHECK(widest.max() == std::numeric_limits<std::int64_t>::max());
  CHECK(widest.value_at_percentile(100) == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("Histogram equivalent-value ranges") {
  const Histogram h;
  // Below sub_bucket_count (2048) every integer has its own slot.
  for (std::int64_t v : {0, 1, 2, 1000, 2047}) {
    CHECK(h.lowest_equivalent(v) == v);
    CHECK(h.highest_equivalent(v) == v);
    CHECK(h.median_equivalent(v) == v);
  }
  // 2048 .. 4095 in slots of 2, 4096 .. 8191 in slots of 4.
  CHECK(h.lowest_equivalent(2049) == 2048);
  CHECK(h.highest_equivalent(2048) == 2049);
  CHECK(h.median_equivalent(2048) == 2049);
  CHECK(h.lowest_equivalent(4099) == 4096);
  CHECK(h.highest_equivalent(4096) == 4099);
  CHECK(h.median_equivalent(4096) == 4098);
  CHECK(h.equivalent(4096, 4099));
  CHECK_FALSE(h.equivalent(4099, 4100));
  // HdrHistogram's well-known example: 10,007 and 10,000 share a 3-digit slot of width 8.
  CHECK(h.lowest_equivalent(10'007) == 10'000);
  CHECK(h.highest_equivalent(10'007) == 10'007);
  // Out-of-range arguments are clamped the way record() clamps.
  CHECK(h.lowest_equivalent(-5) == 0);
  CHECK(h.equivalent(h.highest_trackable() + 12345, h.highest_trackable()));
}

TEST_CASE("Histogram coordinated-omission known answers: raw") {
  const Histogram raw = raw_histogram();
  CHECK(raw.total_count() == 10'001);
  CHECK(raw.saturated() == 0);
  CHECK(within_precision(raw.value_at_percentile(30.0), 1'000.0));
  CHECK(within_precision(raw.value_at_percentile(99.0), 1'000.0));
  CHECK(within_precision(raw.value_at_percentile(99.99), 1'000.0));
  CHECK(within_precision(raw.value_at_percentile(99.999), 100'000'000.0));
  CHECK(within_precision(raw.value_at_percentile(100.0), 100'000'000.0));
  // Exact, since values below 2048 have slots of width 1.
  CHECK(raw.value_at_percentile(99.99) == 1'000);
  CHECK(raw.value_at_percentile(100.0) == raw.highest_equivalent(kStall));

  CHECK(raw_histogram().min() == 1'000);
  CHECK(raw.max() == kStall);  // exact, not the bucket's highest equivalent
  CHECK(raw.equivalent(raw.max(), kStall));

  const Buckets buckets = buckets_of(raw);
  REQUIRE(buckets.size() == 2);
  CHECK(buckets[0] == std::make_pair(std::int64_t{1'000}, std::int64_t{10'000}));
  CHECK(buckets[1].second == 1);
}

TEST_CASE("Histogram coordinated-omission known answers: corrected") {
  const Histogram corrected = corrected_histogram();
  CHECK(corrected.total_count() == 20'000);
  CHECK(within_precision(corrected.value_at_percentile(30.0), 1'000.0));
  CHECK(within_precision(corrected.value_at_percentile(50.0), 1'000.0));
  CHECK(within_precision(corrected.value_at_percentile(75.0), 50'000'000.0));
  CHECK(within_precision(corrected.value_at_percentile(90.0), 80'000'000.0));
  CHECK(within_precision(corrected.value_at_percentile(99.0), 98'000'000.0));
  // 99.99% of 20,000 is the 19,998th sample: the 9,998th back-filled value, 99,980,000.
  CHECK(within_precision(corrected.value_at_percentile(99.99), 99'980'000.0));
  CHECK(corrected.equivalent(corrected.value_at_percentile(99.99), 99'980'000));
  CHECK(within_precision(corrected.value_at_percentile(99.999), 100'000'000.0));
  CHECK(within_precision(corrected.value_at_percentile(100.0), 100'000'000.0));
  CHECK(corrected.min() == 1'000);
  CHECK(corrected.max() == kStall);

  std::int64_t counted = 0;
  corrected.for_each_recorded([&](std::int64_t, std::int64_t count) {
    CHECK(count > 0);
    counted += count;
  });
  CHECK(counted == 20'000);
}

TEST_CASE("Histogram mean and standard deviation known answers") {
  // HdrHistogram's Java HistogramTest expectations, to ~0.1%.
  const double raw_mean = (10'000.0 * 1'000 + 1.0 * 100'000'000) / 10'001;
  const double raw_stddev =
      std::sqrt((10'000.0 * std::pow(1'000.0 - raw_mean, 2) + std::pow(100'000'000.0 - raw_mean, 2)) /
                10'001);
  const Histogram raw = raw_histogram();
  CHECK(raw.mean() == doctest::Approx(raw_mean).epsilon(0.001));
  CHECK(raw.stddev() == doctest::Approx(raw_stddev).epsilon(0.001));

  const double corrected_mean = (1'000.0 + 50'000'000.0) / 2;
  double squared_deviation_sum = 10'000 * std::pow(1'000.0 - corrected_mean, 2);
  for (std::int64_t v = 10'000; v <= 100'000'000; v += 10'000) {
    squared_deviation_sum += std::pow(static_cast<double>(v) - corrected_mean, 2);
  }
  const double corrected_stddev = std::sqrt(squared_deviation_sum / 20'000);
  const Histogram corrected = corrected_histogram();
  CHECK(corrected.mean() == doctest::Approx(corrected_mean).epsilon(0.001));
  CHECK(corrected.stddev() == doctest::Approx(corrected_stddev).epsilon(0.001));

  Histogram same;
  same.record_n(1'234, 100);
  CHECK(same.mean() == doctest::Approx(1'234.0));
  CHECK(same.stddev() == doctest::Approx(0.0));
  CHECK(same.min() == 1'234);
  CHECK(same.max() == 1'234);
}

TEST_CASE("Histogram keeps 3 significant digits from 1 ns to 1 h") {
  std::vector<std::int64_t> samples;
  for (std::int64_t v = 1; v <= 1'000'000'000'000; v *= 10) samples.push_back(v);
  samples.push_back(Histogram::kDefaultHighest);
  for (std::int64_t v : samples) {
    CAPTURE(v);
    Histogram h;
    h.record(v);
    const std::int64_t reported = h.value_at_percentile(50.0);
    CHECK(h.lowest_equivalent(v) <= v);
    CHECK(h.highest_equivalent(v) >= v);
    CHECK(static_cast<double>(reported - v) / static_cast<double>(v) < 0.001);
    CHECK(static_cast<double>(v - h.lowest_equivalent(v)) / static_cast<double>(v) < 0.001);
    CHECK(h.min() == v);
    CHECK(h.max() == v);
  }
  // And everywhere in between: every slot is narrower than 1/1024 of its values.
  const Histogram h;
  int too_wide = 0;
  for (std::int64_t v : log_uniform_values(100'000, 1.0, 3.6e12, 7)) {
    const auto width = static_cast<double>(h.highest_equivalent(v) - h.lowest_equivalent(v) + 1);
    const double allowed = v < 2'048 ? 1.0 : static_cast<double>(v) / 1024;
    if (width > allowed || h.lowest_equivalent(v) > v || h.highest_equivalent(v) < v) ++too_wide;
  }
  CHECK(too_wide == 0);
}

TEST_CASE("Histogram percentiles match the ceil-rank of the sorted samples") {
  const std::vector<std::int64_t> values = log_uniform_values(50'001, 1'000.0, 1e7, 11);
  Histogram h;
  for (std::int64_t v : values) h.record(v);
  std::vector<std::int64_t> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (double p : {0.0, 0.001, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0}) {
    CAPTURE(p);
    CHECK(h.value_at_percentile(p) == h.highest_equivalent(rank_value(sorted, p)));
  }
  // Out-of-range requests are clamped to [0, 100].
  CHECK(h.value_at_percentile(-5.0) == h.value_at_percentile(0.0));
  CHECK(h.value_at_percentile(250.0) == h.value_at_percentile(100.0));
  CHECK(h.value_at_percentile(std::nan("")) == h.value_at_percentile(0.0));
  CHECK(h.value_at_percentile(100.0) == h.highest_equivalent(h.max()));
  CHECK(h.value_at_percentile(0.0) == h.highest_equivalent(h.min()));
}

TEST_CASE("Histogram clamps out-of-range values and counts saturation") {
  Histogram h(1'000'000, 3);
  h.record(-7);
  CHECK(h.min() == 0);
  CHECK(h.saturated() == 0);
  h.record(2'000'000);
  h.record_n(5'000'000, 3);
  h.record(1'000'000);  // exactly highest is in range
  CHECK(h.total_count() == 6);
  CHECK(h.saturated() == 4);
  CHECK(h.max() == 1'000'000);
  CHECK(h.value_at_percentile(100.0) == h.highest_equivalent(1'000'000));
  CHECK(h.value_at_percentile(1.0) == 0);
  const Buckets buckets = buckets_of(h);
  REQUIRE(buckets.size() == 2);
  CHECK(buckets[0] == std::make_pair(std::int64_t{0}, std::int64_t{1}));
  CHECK(buckets[1].second == 5);
}

TEST_CASE("Histogram record_n equals n records, and zero and negative counts are ignored") {
  Histogram bulk;
  Histogram single;
  for (std::int64_t v : {3, 2'500, 70'000, 123'456'789}) {
    bulk.record_n(v, 17);
    for (int i = 0; i < 17; ++i) single.record(v);
  }
  bulk.record_n(999'999, 0);
  bulk.record_n(1, -4);
  CHECK(buckets_of(bulk) == buckets_of(single));
  CHECK(bulk.total_count() == single.total_count());
  CHECK(bulk.min() == 3);
  CHECK(bulk.max() == 123'456'789);
}

TEST_CASE("Histogram record_corrected edge cases") {
  Histogram h;
  h.record_corrected(500, 1'000);  // not longer than the interval: no back-fill
  h.record_corrected(5'000, 0);    // no expected interval: no back-fill
  h.record_corrected(5'000, -3);
  CHECK(h.total_count() == 3);
  h.record_corrected(4'000, 1'000);  // 4000 + back-filled 3000, 2000, 1000
  CHECK(h.total_count() == 7);
  CHECK(h.min() == 500);
}

TEST_CASE("Histogram merge is exact") {
  const std::vector<std::int64_t> a_values = log_uniform_values(20'000, 1e3, 1e7, 1);
  const std::vector<std::int64_t> b_values = log_uniform_values(30'000, 1e2, 1e10, 2);
  Histogram a;
  Histogram b;
  Histogram all;
  for (std::int64_t v : a_values) {
    a.record(v);
    all.record(v);
  }
  for (std::int64_t v : b_values) {
    b.record(v);
    all.record(v);
  }
  b.record(Histogram::kDefaultHighest * 2);  // saturated samples merge too
  all.record(Histogram::kDefaultHighest * 2);

  a.merge(b);
  CHECK(buckets_of(a) == buckets_of(all));
  CHECK(a.total_count() == all.total_count());
  CHECK(a.saturated() == 1);
  CHECK(a.min() == all.min());
  CHECK(a.max() == all.max());
  CHECK(a.mean() == doctest::Approx(all.mean()));
  CHECK(a.stddev() == doctest::Approx(all.stddev()));
  for (double p : {50.0, 99.0, 99.99}) CHECK(a.value_at_percentile(p) == all.value_at_percentile(p));

  // Empty on either side.
  Histogram empty;
  Histogram copy = all;
  copy.merge(empty);
  CHECK(buckets_of(copy) == buckets_of(all));
  CHECK(copy.min() == all.min());
  empty.merge(all);
  CHECK(buckets_of(empty) == buckets_of(all));
  CHECK(empty.min() == all.min());
  CHECK(empty.max() == all.max());
  CHECK(empty.total_count() == all.total_count());
}

TEST_CASE("Histogram merge of different configurations aborts with file:line") {
  int err_pipe[2];
  REQUIRE(pipe(err_pipe) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child dies by SIGABRT as a plain process: no doctest crash report from it.
    std::signal(SIGABRT, SIG_DFL);
    dup2(err_pipe[1], STDERR_FILENO);
    close(err_pipe[0]);
    Histogram three_digits(1'000'000, 3);
    const Histogram two_digits(1'000'000, 2);
    three_digits.merge(two_digits);
    _exit(0);  // not reached when the check works
  }
  close(err_pipe[1]);
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = read(err_pipe[0], buffer, sizeof buffer)) > 0;) message.append(buffer, static_cast<std::size_t>(n));
  close(err_pipe[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(std::regex_search(message, std::regex(R"(histogram\.cpp:\d+: check failed: .*merge)")));
}

TEST_CASE("Histogram reset returns to the empty state") {
  Histogram h = corrected_histogram();
  h.record(Histogram::kDefaultHighest + 1);
  h.reset();
  CHECK(h.total_count() == 0);
  CHECK(h.saturated() == 0);
  CHECK(h.min() == 0);
  CHECK(h.max() == 0);
  CHECK(h.mean() == 0.0);
  CHECK(h.value_at_percentile(99.0) == 0);
  CHECK(buckets_of(h).empty());
  // Reused after reset it behaves like a new histogram.
  for (int i = 0; i < 10'000; ++i) h.record_corrected(1'000, kInterval);
  h.record_corrected(kStall, kInterval);
  CHECK(buckets_of(h) == buckets_of(corrected_histogram()));
  CHECK(h.min() == 1'000);
}

TEST_CASE("Histogram empty state") {
  const Histogram h;
  CHECK(h.total_count() == 0);
  CHECK(h.saturated() == 0);
  CHECK(h.min() == 0);
  CHECK(h.max() == 0);
  CHECK(h.mean() == 0.0);
  CHECK(h.stddev() == 0.0);
  CHECK(h.value_at_percentile(0.0) == 0);
  CHECK(h.value_at_percentile(50.0) == 0);
  CHECK(h.value_at_percentile(100.0) == 0);
  CHECK(buckets_of(h).empty());
}

TEST_CASE("Histogram memory is fixed at construction") {
  Histogram h;
  const std::size_t before = h.bucket_memory_bytes();
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1'000'000; ++i) h.record(static_cast<std::int64_t>(rng() >> 20));
  CHECK(h.bucket_memory_bytes() == before);
  CHECK(h.total_count() == 1'000'000);
}

TEST_CASE("hgrm writer: HdrHistogram percentile distribution format") {
  const Histogram corrected = corrected_histogram();
  std::ostringstream out;
  pathbench::write_percentile_distribution(corrected, out, 1'000.0);
  REQUIRE(out.good());
  const std::vector<std::string> lines = lines_of(out.str());
  REQUIRE(lines.size() > 5);

  CHECK(lines[0] == "       Value     Percentile TotalCount 1/(1-Percentile)");
  CHECK(lines[1].empty());

  const std::regex row(R"(^ *(\d+\.\d{3}) (\d\.\d{12}) +(\d+) +(\d+\.\d{2})$)");
  const std::regex last_row(R"(^ *(\d+\.\d{3}) (1\.000000000000) +(\d+)$)");
  const std::size_t footer = lines.size() - 3;
  double previous_percentile = -1.0;
  std::int64_t previous_count = 0;
  double previous_value = 0.0;
  for (std::size_t i = 2; i < footer; ++i) {
    CAPTURE(lines[i]);
    std::smatch m;
    const bool is_last = i + 1 == footer;
    REQUIRE(std::regex_match(lines[i], m, is_last ? last_row : row));
    CHECK(lines[i].size() == (is_last ? 12 + 1 + 14 + 1 + 10u : 12 + 1 + 14 + 1 + 10 + 1 + 14u));
    const double value = std::stod(m[1]);
    const double percentile = std::stod(m[2]);
    const std::int64_t count = std::stoll(m[3]);
    CHECK(percentile >= previous_percentile);
    CHECK(count >= previous_count);
    CHECK(value >= previous_value);
    previous_percentile = percentile;
    previous_count = count;
    previous_value = value;
  }
  CHECK(previous_percentile == 1.0);
  CHECK(previous_count == 20'000);

  CHECK(std::regex_match(lines[footer], std::regex(R"(^#\[Mean    = +\d+\.\d{3}, StdDeviation   = +\d+\.\d{3}\]$)")));
  CHECK(std::regex_match(lines[footer + 1], std::regex(R"(^#\[Max     = +\d+\.\d{3}, Total count    = +\d+\]$)")));
  CHECK(std::regex_match(lines[footer + 2], std::regex(R"(^#\[Buckets = +\d+, SubBuckets     = +\d+\]$)")));

  // Known answers from HdrHistogram_c's hdr_percentiles_print(h, f, 5, 1000.0, CLASSIC).
  CHECK(lines.size() == 2 + 61 + 3);
  CHECK(lines[2] == "       1.000 0.000000000000      10000           1.00");
  CHECK(lines[8] == "   10002.431 0.550000000000      11000           2.22");
  CHECK(lines[footer - 3] == "   99942.399 0.999658203125      19994        2925.71");
  CHECK(lines[footer - 2] == "  100007.935 0.999707031250      20000        3413.33");
  CHECK(lines[footer - 1] == "  100007.935 1.000000000000      20000");
  CHECK(lines[footer] == "#[Mean    =    25003.007, StdDeviation   =    32276.410]");
  CHECK(lines[footer + 1] == "#[Max     =   100007.935, Total count    =        20000]");
  CHECK(lines[footer + 2] == "#[Buckets =           32, SubBuckets     =         2048]");
}

TEST_CASE("hgrm writer: ticks per half distance and unit scale") {
  const Histogram corrected = corrected_histogram();
  std::ostringstream coarse;
  pathbench::write_percentile_distribution(corrected, coarse, 1.0, 1);
  const std::vector<std::string> lines = lines_of(coarse.str());
  CHECK(lines.size() == 2 + 14 + 3);  // HdrHistogram_c prints 14 rows with 1 tick
  CHECK(lines[2] == "    1000.000 0.000000000000      10000           1.00");
  CHECK(lines[lines.size() - 4] == "100007935.000 1.000000000000      20000");

  std::ostringstream raw;
  pathbench::write_percentile_distribution(raw_histogram(), raw, 1.0);
  const std::vector<std::string> raw_lines = lines_of(raw.str());
  CHECK(raw_lines.size() == 2 + 69 + 3);
  CHECK(raw_lines[raw_lines.size() - 2] == "#[Max     = 100007935.000, Total count    =        10001]");
}

TEST_CASE("hgrm writer: empty histogram yields header and footer") {
  std::ostringstream out;
  pathbench::write_percentile_distribution(Histogram{}, out, 1'000.0);
  CHECK(out.str() ==
        "       Value     Percentile TotalCount 1/(1-Percentile)\n"
        "\n"
        "#[Mean    =        0.000, StdDeviation   =        0.000]\n"
        "#[Max     =        0.000, Total count    =            0]\n"
        "#[Buckets =           32, SubBuckets     =         2048]\n");
}
