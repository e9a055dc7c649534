#include "net/prometheus.h"

#include <fmt/format.h>

namespace pathbench::net {

namespace {

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
    case MetricType::summary: return "summary";
  }
  return "untyped";
}

void append_escaped(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  append_escaped(out, value);
  return out;
}

void PrometheusWriter::family(std::string_view name, MetricType type, std::string_view help) {
  fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type_name(type));
}

// name+suffix, then the labels (and one extra label, e.g. le or quantile) in braces when any.
void PrometheusWriter::series(std::string_view name, std::string_view suffix, Labels labels, std::string_view extra_name,
                              std::string_view extra_value) {
  out_ += name;
  out_ += suffix;
  if (labels.size() == 0 && extra_name.empty()) return;
  out_ += '{';
  bool first = true;
  auto label = [&](std::string_view n, std::string_view v) {
    if (!first) out_ += ',';
    first = false;
    out_ += n;
    out_ += "=\"";
    append_escaped(out_, v);
    out_ += '"';
  };
  for (const auto& l : labels) label(l.name, l.value);
  if (!extra_name.empty()) label(extra_name, extra_value);
  out_ += '}';
}

void PrometheusWriter::sample(std::string_view name, Labels labels, std::uint64_t value) {
  series(name, "", labels);
  fmt::format_to(std::back_inserter(out_), " {}\n", value);
}

void PrometheusWriter::sample(std::string_view name, Labels labels, double value) {
  series(name, "", labels);
  fmt::format_to(std::back_inserter(out_), " {}\n", value);
}

void PrometheusWriter::histogram(std::string_view name, Labels labels, std::span<const double> upper_bounds,
                                 std::span<const std::uint64_t> per_bucket, double sum, std::uint64_t count) {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
    if (i < per_bucket.size()) cumulative += per_bucket[i];
    series(name, "_bucket", labels, "le", fmt::format("{}", upper_bounds[i]));
    fmt::format_to(std::back_inserter(out_), " {}\n", cumulative);
  }
  series(name, "_bucket", labels, "le", "+Inf");
  fmt::format_to(std::back_inserter(out_), " {}\n", count);
  series(name, "_sum", labels);
  fmt::format_to(std::back_inserter(out_), " {}\n", sum);
  series(name, "_count", labels);
  fmt::format_to(std::back_inserter(out_), " {}\n", count);
}

void PrometheusWriter::summary(std::string_view name, Labels labels, std::span<const std::pair<double, double>> quantiles,
                               double sum, std::uint64_t count) {
  for (const auto& [quantile, value] : quantiles) {
    series(name, "", labels, "quantile", fmt::format("{}", quantile));
    fmt::format_to(std::back_inserter(out_), " {}\n", value);
  }
  series(name, "_sum", labels);
  fmt::format_to(std::back_inserter(out_), " {}\n", sum);
  series(name, "_count", labels);
  fmt::format_to(std::back_inserter(out_), " {}\n", count);
}

}  // namespace pathbench::net
