// HdrHistogram's log-linear layout with unit magnitude 0 (lowest discernible value 1).
//
// The counts array is a sequence of "buckets", each covering one power-of-two range
// with sub_bucket_half_count linear slots (bucket 0 additionally owns the lower half,
// values 0 .. sub_bucket_half_count-1, at resolution 1). A value's bucket comes from
// its leading-zero count, so record() is a handful of integer instructions.
#include "core/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <source_location>

#include "core/check.h"

namespace pathbench {

Histogram::Histogram(std::int64_t highest_trackable, int significant_digits)
    : highest_trackable_(highest_trackable), significant_digits_(significant_digits) {
  check(significant_digits >= 1 && significant_digits <= 5,
        "Histogram significant_digits must be in 1..5");
  check(highest_trackable >= 2, "Histogram highest_trackable must be >= 2");

  // Enough linear sub-buckets that two adjacent values at the top of a bucket still
  // differ in the requested digit: 2^magnitude >= 2 * 10^digits. Integer arithmetic
  // instead of HdrHistogram's ceil(log2(...)) gives the same result without any
  // floating-point edge cases.
  std::int64_t single_unit_resolution_limit = 2;
  for (int d = 0; d < significant_digits; ++d) single_unit_resolution_limit *= 10;
  int sub_bucket_count_magnitude = 0;
  while ((std::int64_t{1} << sub_bucket_count_magnitude) < single_unit_resolution_limit) {
    ++sub_bucket_count_magnitude;
  }
  sub_bucket_half_count_magnitude_ = std::max(sub_bucket_count_magnitude, 1) - 1;
  sub_bucket_count_ = std::int64_t{1} << (sub_bucket_half_count_magnitude_ + 1);
  sub_bucket_half_count_ = sub_bucket_count_ / 2;
  sub_bucket_mask_ = sub_bucket_count_ - 1;
  bucket_shift_base_ = 63 - sub_bucket_half_count_magnitude_;

  // Buckets needed so that highest_trackable has a slot; guard the doubling against
  // overflow when highest_trackable is close to INT64_MAX.
  std::int64_t smallest_untrackable = sub_bucket_count_;
  bucket_count_ = 1;
  while (smallest_untrackable <= highest_trackable) {
    if (smallest_untrackable > std::numeric_limits<std::int64_t>::max() / 2) {
      ++bucket_count_;
      break;
    }
    smallest_untrackable <<= 1;
    ++bucket_count_;
  }
  counts_.assign(static_cast<std::size_t>(bucket_count_ + 1) *
                     static_cast<std::size_t>(sub_bucket_half_count_),
                 0);
  check(index_of(highest_trackable_) < counts_.size(), "Histogram geometry covers highest");
}

int Histogram::bucket_of(std::int64_t value) const noexcept {
  // OR-ing in the mask makes every value below sub_bucket_count land in bucket 0.
  // The extra `| 1` changes nothing (the mask's low bit is set) but lets the compiler
  // see the operand is non-zero, dropping countl_zero's zero-input branch without lzcnt.
  return bucket_shift_base_ -
         std::countl_zero(static_cast<std::uint64_t>(value | sub_bucket_mask_ | 1));
}

std::size_t Histogram::index_of(std::int64_t value) const noexcept {
  const int bucket = bucket_of(value);
  const std::int64_t sub_bucket = value >> bucket;  // in [half_count, count) except bucket 0
  // Bucket b starts at (b + 1) * half_count; its lower half overlaps bucket b-1's
  // range and is never used, so the offset subtracts half_count.
  return static_cast<std::size_t>(
      ((static_cast<std::int64_t>(bucket) + 1) << sub_bucket_half_count_magnitude_) +
      (sub_bucket - sub_bucket_half_count_));
}

std::int64_t Histogram::value_from_index(std::size_t index) const noexcept {
  const auto i = static_cast<std::int64_t>(index);
  std::int64_t bucket = (i >> sub_bucket_half_count_magnitude_) - 1;
  std::int64_t sub_bucket = (i & (sub_bucket_half_count_ - 1)) + sub_bucket_half_count_;
  if (bucket < 0) {  // the first half_count slots are bucket 0's lower half
    sub_bucket -= sub_bucket_half_count_;
    bucket = 0;
  }
  return sub_bucket << bucket;
}

std::size_t Histogram::first_used_index() const noexcept {
  return total_count_ == 0 ? 1 : index_of(min_);
}

std::size_t Histogram::last_used_index() const noexcept {
  return total_count_ == 0 ? 0 : index_of(max_);
}

void Histogram::record(std::int64_t value) noexcept {
  // std::clamp/min/max compile to conditional moves: no data-dependent branches,
  // so a spread of latencies costs the same as a constant one.
  const std::int64_t clamped = std::clamp<std::int64_t>(value, 0, highest_trackable_);
  saturated_ += static_cast<std::int64_t>(value > highest_trackable_);
  counts_[index_of(clamped)] += 1;
  total_count_ += 1;
  min_ = std::min(min_, clamped);
  max_ = std::max(max_, clamped);
}

void Histogram::record_n(std::int64_t value, std::int64_t count) noexcept {
  if (count <= 0) return;  // a zero count must not move min/max
  const std::int64_t clamped = std::clamp<std::int64_t>(value, 0, highest_trackable_);
  if (value > highest_trackable_) saturated_ += count;
  counts_[index_of(clamped)] += count;
  total_count_ += count;
  min_ = std::min(min_, clamped);
  max_ = std::max(max_, clamped);
}

void Histogram::record_corrected(std::int64_t value, std::int64_t expected_interval) noexcept {
  record(value);
  // Start from the clamped value: the histogram cannot represent more than that, and
  // it bounds the loop for absurd inputs. Saturation is counted once, for the real sample.
  const std::int64_t clamped = std::clamp<std::int64_t>(value, 0, highest_trackable_);
  if (expected_interval <= 0 || clamped <= expected_interval) return;
  for (std::int64_t missing = clamped - expected_interval; missing >= expected_interval;
       missing -= expected_interval) {
    record(missing);
  }
}

void Histogram::merge(const Histogram& other) {
  check(highest_trackable_ == other.highest_trackable_ &&
            significant_digits_ == other.significant_digits_,
        "Histogram::merge needs identical highest_trackable and significant_digits");
  // Only the other histogram's [min, max] slots can be non-zero; merging that range
  // keeps per-second swaps cheap for narrow latency distributions.
  const std::size_t last = other.last_used_index();
  for (std::size_t i = other.first_used_index(); i <= last; ++i) counts_[i] += other.counts_[i];
  if (other.total_count_ > 0) {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  total_count_ += other.total_count_;
  saturated_ += other.saturated_;
}

void Histogram::reset() noexcept {
  const std::size_t first = first_used_index();
  const std::size_t last = last_used_index();
  if (first <= last) {
    std::fill(counts_.begin() + static_cast<std::ptrdiff_t>(first),
              counts_.begin() + static_cast<std::ptrdiff_t>(last) + 1, 0);
  }
  total_count_ = 0;
  saturated_ = 0;
  min_ = INT64_MAX;
  max_ = 0;
}

std::int64_t Histogram::min() const noexcept { return total_count_ == 0 ? 0 : min_; }

std::int64_t Histogram::max() const noexcept { return total_count_ == 0 ? 0 : max_; }

double Histogram::mean() const noexcept {
  if (total_count_ == 0) return 0.0;
  // long double keeps the sum exact far beyond what double would (x86: 64-bit mantissa),
  // matching HdrHistogram_c's integer sum for any realistic run.
  long double sum = 0;
  const std::size_t last = last_used_index();
  for (std::size_t i = first_used_index(); i <= last; ++i) {
    if (counts_[i] != 0) {
      sum += static_cast<long double>(counts_[i]) *
             static_cast<long double>(median_equivalent(value_from_index(i)));
    }
  }
  return static_cast<double>(sum / static_cast<long double>(total_count_));
}

double Histogram::stddev() const noexcept {
  if (total_count_ == 0) return 0.0;
  const double mu = mean();
  double squared_deviation_sum = 0.0;
  const std::size_t last = last_used_index();
  for (std::size_t i = first_used_index(); i <= last; ++i) {
    if (counts_[i] != 0) {
      const double deviation = static_cast<double>(median_equivalent(value_from_index(i))) - mu;
      squared_deviation_sum += deviation * deviation * static_cast<double>(counts_[i]);
    }
  }
  return std::sqrt(squared_deviation_sum / static_cast<double>(total_count_));
}

std::int64_t Histogram::value_at_percentile(double percentile) const noexcept {
  if (total_count_ == 0) return 0;
  // NaN compares false everywhere; treat it as 0 rather than propagate it into a count.
  double requested = percentile >= 0.0 ? std::min(percentile, 100.0) : 0.0;
  // As HdrHistogram (Java) does: step one ulp down before ceil so that a percentile
  // such as 99.99, which is not exact in binary, does not round up into the next count.
  requested = std::max(std::nextafter(requested, 0.0), 0.0);
  const double wanted = std::ceil(requested / 100.0 * static_cast<double>(total_count_));
  const std::int64_t count_at_percentile =
      std::clamp<std::int64_t>(static_cast<std::int64_t>(wanted), 1, total_count_);

  std::int64_t cumulative = 0;
  const std::size_t last = last_used_index();
  for (std::size_t i = first_used_index(); i <= last; ++i) {
    cumulative += counts_[i];
    if (cumulative >= count_at_percentile) return highest_equivalent(value_from_index(i));
  }
  return highest_equivalent(max_);  // unreachable while counts and total_count_ agree
}

std::int64_t Histogram::lowest_equivalent(std::int64_t value) const noexcept {
  const std::int64_t clamped = std::clamp<std::int64_t>(value, 0, highest_trackable_);
  const int bucket = bucket_of(clamped);
  return (clamped >> bucket) << bucket;
}

std::int64_t Histogram::highest_equivalent(std::int64_t value) const noexcept {
  const std::int64_t clamped = std::clamp<std::int64_t>(value, 0, highest_trackable_);
  const int bucket = bucket_of(clamped);
  // Written as low + (width - 1) so the top bucket of a histogram reaching INT64_MAX
  // does not overflow.
  return ((clamped >> bucket) << bucket) + ((std::int64_t{1} << bucket) - 1);
}

std::int64_t Histogram::median_equivalent(std::int64_t value) const noexcept {
  const std::int64_t clamped = std::clamp<std::int64_t>(value, 0, highest_trackable_);
  const int bucket = bucket_of(clamped);
  return ((clamped >> bucket) << bucket) + ((std::int64_t{1} << bucket) >> 1);
}

bool Histogram::equivalent(std::int64_t a, std::int64_t b) const noexcept {
  return lowest_equivalent(a) == lowest_equivalent(b);
}

void Histogram::for_each_recorded(
    const std::function<void(std::int64_t, std::int64_t)>& fn) const {
  const std::size_t last = last_used_index();
  for (std::size_t i = first_used_index(); i <= last; ++i) {
    if (counts_[i] != 0) fn(highest_equivalent(value_from_index(i)), counts_[i]);
  }
}

namespace {

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    const auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

std::string Histogram::encode() const {
  std::string out;
  out.reserve(48);
  put_varint(out, static_cast<std::uint64_t>(highest_trackable_));
  put_varint(out, static_cast<std::uint64_t>(significant_digits_));
  put_varint(out, static_cast<std::uint64_t>(total_count_));
  put_varint(out, static_cast<std::uint64_t>(saturated_));
  put_varint(out, static_cast<std::uint64_t>(total_count_ == 0 ? 0 : min_));
  put_varint(out, static_cast<std::uint64_t>(max_));
  std::size_t previous = 0;
  const std::size_t last = last_used_index();
  for (std::size_t i = first_used_index(); i <= last; ++i) {
    if (counts_[i] == 0) continue;
    put_varint(out, i - previous);
    put_varint(out, static_cast<std::uint64_t>(counts_[i]));
    previous = i;
  }
  return out;
}

std::optional<Histogram> Histogram::decode(std::string_view in) {
  std::uint64_t highest = 0, digits = 0, total = 0, saturated = 0, min = 0, max = 0;
  if (!get_varint(in, highest) || !get_varint(in, digits) || !get_varint(in, total) || !get_varint(in, saturated) ||
      !get_varint(in, min) || !get_varint(in, max))
    return std::nullopt;
  constexpr auto kMax = static_cast<std::uint64_t>(INT64_MAX);
  if (highest < 2 || highest > kMax / 2 || digits < 1 || digits > 5 || total > kMax || saturated > total ||
      max > highest || min > max)
    return std::nullopt;
  Histogram h(static_cast<std::int64_t>(highest), static_cast<int>(digits));
  std::uint64_t sum = 0;
  std::size_t index = 0;
  bool first = true;
  while (!in.empty()) {
    std::uint64_t delta = 0, count = 0;
    if (!get_varint(in, delta) || !get_varint(in, count)) return std::nullopt;
    if ((!first && delta == 0) || count == 0 || delta >= h.counts_.size() - index || count > kMax - sum)
      return std::nullopt;
    first = false;
    index += delta;
    h.counts_[index] = static_cast<std::int64_t>(count);
    sum += count;
  }
  if (sum != total) return std::nullopt;
  h.total_count_ = static_cast<std::int64_t>(total);
  h.saturated_ = static_cast<std::int64_t>(saturated);
  if (total > 0) {
    h.min_ = static_cast<std::int64_t>(min);
    h.max_ = static_cast<std::int64_t>(max);
    // Every count must lie in [min, max]'s slots: the loops over first..last_used_index rely on it.
    for (std::size_t i = 0; i < h.counts_.size(); ++i)
      if (h.counts_[i] != 0 && (i < h.first_used_index() || i > h.last_used_index())) return std::nullopt;
  } else if (min != 0 || max != 0) {
    return std::nullopt;
  }
  return h;
}

}  // namespace pathbench
