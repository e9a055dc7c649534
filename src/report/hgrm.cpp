// The percentile steps reproduce HdrHistogram's percentile iterator step for step
// (including its floating-point expressions), so a pathbench .hgrm lists the same
// values, percentiles and counts as HdrHistogram_c would for the same samples and
// the files can be diffed or plotted next to ones from other HdrHistogram tools.
#include "report/hgrm.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace pathbench {
namespace {

constexpr std::size_t kLineCapacity = 1024;  // a %f of any double fits (at most ~330 chars)

void write_line(std::ostream& out, const char* line, int length) {
  // A negative or over-long length would mean a bug in our format strings; fail the
  // stream instead of writing a truncated row.
  if (length < 0 || static_cast<std::size_t>(length) >= kLineCapacity) {
    out.setstate(std::ios::failbit);
    return;
  }
  out.write(line, length);
}

// Distance to the next reported percentile. Half of the remaining distance to 100%
// gets `ticks_per_half_distance` rows, then the next half as many again, and so on.
double next_percentile(double percentile, int ticks_per_half_distance) {
  const auto halvings =
      static_cast<std::int64_t>(std::log(100.0 / (100.0 - percentile)) / std::log(2.0)) + 1;
  const auto half_distance = static_cast<std::int64_t>(std::pow(2.0, static_cast<double>(halvings)));
  const std::int64_t reporting_ticks = ticks_per_half_distance * half_distance;
  return percentile + 100.0 / static_cast<double>(reporting_ticks);
}

}  // namespace

void write_percentile_distribution(const Histogram& h, std::ostream& out,
                                   double value_unit_scale, int ticks_per_half_distance) {
  if (!(value_unit_scale > 0.0) || ticks_per_half_distance < 1) {
    std::fprintf(stderr, "%s:%d: check failed: write_percentile_distribution needs "
                 "value_unit_scale > 0 and ticks_per_half_distance >= 1\n", __FILE__, __LINE__);
    std::abort();
  }
  const int value_decimals = h.significant_digits();
  char line[kLineCapacity];

  out << "       Value     Percentile TotalCount 1/(1-Percentile)\n\n";

  const std::int64_t total = h.total_count();
  if (total > 0) {
    double percentile_to_report = 0.0;
    std::int64_t cumulative = 0;
    std::int64_t last_value = 0;
    h.for_each_recorded([&](std::int64_t highest_equivalent, std::int64_t count) {
      cumulative += count;
      last_value = highest_equivalent;
      const double current_percentile =
          (100.0 * static_cast<double>(cumulative)) / static_cast<double>(total);
      // One bucket may cover several reporting steps; each gets its own row.
      while (percentile_to_report <= current_percentile) {
        const double fraction = percentile_to_report / 100.0;
        write_line(out, line,
                   std::snprintf(line, sizeof line, "%12.*f %2.12f %10" PRId64 " %14.2f\n",
                                 value_decimals,
                                 static_cast<double>(highest_equivalent) / value_unit_scale,
                                 fraction, cumulative, 1.0 / (1.0 - fraction)));
        // The bucket that completes the count reports once; the 100% row follows.
        if (cumulative >= total) break;
        percentile_to_report = next_percentile(percentile_to_report, ticks_per_half_distance);
      }
    });
    // 1/(1-1) is infinite: HdrHistogram's .hgrm leaves that column out on the last row.
    write_line(out, line,
               std::snprintf(line, sizeof line, "%12.*f %2.12f %10" PRId64 "\n", value_decimals,
                             static_cast<double>(last_value) / value_unit_scale, 1.0, total));
  }

  const double max_value =
      h.total_count() == 0 ? 0.0 : static_cast<double>(h.highest_equivalent(h.max()));
  write_line(out, line,
             std::snprintf(line, sizeof line, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n",
                           h.mean() / value_unit_scale, h.stddev() / value_unit_scale));
  write_line(out, line,
             std::snprintf(line, sizeof line, "#[Max     = %12.3f, Total count    = %12" PRId64 "]\n",
                           max_value / value_unit_scale, total));
  write_line(out, line,
             std::snprintf(line, sizeof line, "#[Buckets = %12d, SubBuckets     = %12d]\n",
                           h.bucket_count(), static_cast<int>(h.sub_bucket_count())));
}

}  // namespace pathbench
