// An HDR-style histogram of non-negative integer values (pathbench records nanoseconds).
//
// Log-linear buckets as in HdrHistogram: each power-of-two range is split into
// 2^k linear sub-buckets so every recorded value is kept to `significant_digits`
// decimal digits. Memory is allocated once in the constructor; record() is
// constant time, allocation free and noexcept. Not thread-safe: each thread owns
// its histograms and they are merged after the threads are joined.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pathbench {

class Histogram {
 public:
  // Defaults cover 1 ns .. 1 h at 3 significant digits.
  static constexpr std::int64_t kDefaultHighest = 3'600'000'000'000;  // 1 h in ns
  // Requires highest_trackable >= 2 and significant_digits in 1..5 (checked: aborts
  // with file:line; scenario validation must reject bad values before this point).
  // Lowest discernible value is 1 (HdrHistogram unit magnitude 0).
  explicit Histogram(std::int64_t highest_trackable = kDefaultHighest, int significant_digits = 3);

  // Values above highest_trackable are clamped to it and counted in saturated().
  // Negative values are clamped to 0.
  void record(std::int64_t value) noexcept;
  void record_n(std::int64_t value, std::int64_t count) noexcept;
  // HdrHistogram's coordinated-omission correction for a process that expects one
  // sample every `expected_interval`: also records value - k*interval for k = 1.. while
  // >= interval (as HdrHistogram does). The correction starts from the clamped value;
  // expected_interval <= 0 means no correction. Cost grows with value / expected_interval.
  void record_corrected(std::int64_t value, std::int64_t expected_interval) noexcept;

  // Exact merge (counts, saturated, min, max); both histograms must have the same
  // highest_trackable and significant_digits (checked: prints file:line and aborts).
  void merge(const Histogram& other);
  void reset() noexcept;

  std::int64_t total_count() const noexcept { return total_count_; }
  std::int64_t saturated() const noexcept { return saturated_; }
  // min()/max() are the exact extremes recorded (after clamping), not bucket bounds
  // as in HdrHistogram_c (whose hdr_max() is highest_equivalent(max())).
  std::int64_t min() const noexcept;   // 0 when empty
  std::int64_t max() const noexcept;   // 0 when empty
  // mean()/stddev() follow HdrHistogram: every sample counts as its bucket's
  // median_equivalent value, so they are accurate to the histogram's precision.
  double mean() const noexcept;        // 0 when empty
  double stddev() const noexcept;      // population standard deviation; 0 when empty
  // The value at or below which `percentile` percent (0..100) of the samples fall,
  // reported as the highest value equivalent to the bucket's (HdrHistogram semantics):
  // the first bucket whose cumulative count >= ceil(percentile/100 * total_count), at
  // least 1. `percentile` is clamped to [0, 100]; 0 when empty. O(number of buckets).
  std::int64_t value_at_percentile(double percentile) const noexcept;

  // Bucket geometry, for writers and tests. The *_equivalent helpers first clamp
  // `value` to [0, highest_trackable] exactly as record() does.
  std::int64_t highest_trackable() const noexcept { return highest_trackable_; }
  int significant_digits() const noexcept { return significant_digits_; }
  std::int64_t lowest_equivalent(std::int64_t value) const noexcept;
  std::int64_t highest_equivalent(std::int64_t value) const noexcept;
  // lowest_equivalent + half the bucket width: the value HdrHistogram uses for mean/stddev.
  std::int64_t median_equivalent(std::int64_t value) const noexcept;
  bool equivalent(std::int64_t a, std::int64_t b) const noexcept;
  std::size_t bucket_memory_bytes() const noexcept { return counts_.size() * sizeof(std::int64_t); }
  // HdrHistogram's "Buckets" and "SubBuckets" (printed in the .hgrm footer).
  int bucket_count() const noexcept { return bucket_count_; }
  std::int64_t sub_bucket_count() const noexcept { return sub_bucket_count_; }

  // Visits every non-empty bucket in increasing value order:
  // fn(highest_equivalent_value, count_in_bucket).
  void for_each_recorded(const std::function<void(std::int64_t, std::int64_t)>& fn) const;

  // Exact, compact serialization (load agents send their histograms to the coordinator):
  // highest_trackable, significant_digits, total, saturated, min, max, then every non-empty
  // bucket as varint (index delta, count) pairs. decode() of encode() equals the original in
  // every bucket, min, max, saturated and total. decode() returns nullopt for bytes that are not
  // such an encoding (truncated, counts that do not add up, an index outside the layout, a
  // geometry the constructor would refuse); it never aborts on bad input.
  std::string encode() const;
  static std::optional<Histogram> decode(std::string_view bytes);

 private:
  // implementation-defined members; `value` arguments are already clamped to [0, highest].
  int bucket_of(std::int64_t value) const noexcept;
  std::size_t index_of(std::int64_t value) const noexcept;
  std::int64_t value_from_index(std::size_t index) const noexcept;
  // Index range that can hold counts: [index_of(min_), index_of(max_)]; empty -> [1, 0].
  std::size_t first_used_index() const noexcept;
  std::size_t last_used_index() const noexcept;

  std::int64_t highest_trackable_;
  int significant_digits_;
  int sub_bucket_half_count_magnitude_ = 0;
  std::int64_t sub_bucket_count_ = 0;
  std::int64_t sub_bucket_half_count_ = 0;
  std::int64_t sub_bucket_mask_ = 0;
  int bucket_shift_base_ = 0;  // 63 - sub_bucket_half_count_magnitude_: bucket = base - clz
  int bucket_count_ = 0;
  std::vector<std::int64_t> counts_;
  std::int64_t total_count_ = 0;
  std::int64_t saturated_ = 0;
  std::int64_t min_ = INT64_MAX;
  std::int64_t max_ = 0;
};

}  // namespace pathbench
