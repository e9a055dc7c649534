// The one writer of Prometheus text exposition (format 0.0.4) in pathbench: the live registry
// and the roles' counters (report/metrics) and the broker role (broker/broker_server) both write
// through it, so label escaping, family headers and histogram buckets are written one way.
//
// A PrometheusWriter appends to a string it does not own; the caller writes one family()
// header, then that family's samples, then the next family. Label values are escaped
// (backslash, double quote, newline); metric and label names are the caller's constants and are
// written as given. Integers are written exactly, doubles in their shortest round-trip form.
// Not thread-safe (one writer per exposition being built); meant for scrape time, not hot paths.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace pathbench::net {

enum class MetricType { counter, gauge, histogram, summary };

struct Label {
  std::string_view name;
  std::string_view value;  // escaped when written
};
using Labels = std::initializer_list<Label>;

// `value` with backslash, double quote and newline escaped, as a label value must be.
std::string escape_label_value(std::string_view value);

class PrometheusWriter {
 public:
  explicit PrometheusWriter(std::string& out) : out_(out) {}

  // "# HELP name help" and "# TYPE name type".
  void family(std::string_view name, MetricType type, std::string_view help);
  // name{labels} value (no braces without labels).
  void sample(std::string_view name, Labels labels, std::uint64_t value);
  void sample(std::string_view name, Labels labels, double value);
  // name_bucket{labels,le="bound"} with cumulative counts, le="+Inf" = count, name_sum, name_count.
  // `per_bucket[i]` counts the observations in (upper_bounds[i-1], upper_bounds[i]]; entries past
  // the bounds (the +Inf bucket) are not needed, the +Inf line is `count`.
  void histogram(std::string_view name, Labels labels, std::span<const double> upper_bounds,
                 std::span<const std::uint64_t> per_bucket, double sum, std::uint64_t count);
  // name{labels,quantile="q"} value per (q, value), then name_sum and name_count.
  void summary(std::string_view name, Labels labels, std::span<const std::pair<double, double>> quantiles, double sum,
               std::uint64_t count);

 private:
  void series(std::string_view name, std::string_view suffix, Labels labels, std::string_view extra_name = {},
              std::string_view extra_value = {});

  std::string& out_;
};

}  // namespace pathbench::net
