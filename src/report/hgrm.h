// HdrHistogram's percentile-distribution text (".hgrm"), read by the HdrHistogram
// plotter (hdrhistogram.github.io/HdrHistogram/plotFiles.html). Columns are laid out
// as HdrHistogram (Java) outputPercentileDistribution writes them; the rows carry the
// same values, percentiles and counts as HdrHistogram_c's hdr_percentiles_print(CLASSIC)
// for the same samples (that function pads with %12s/%12f instead and prints "inf" in
// the last row's 1/(1-Percentile) column).
//
// Called once per result file after the run, from whichever thread writes results;
// it only reads the histogram. Layout:
//
//          Value     Percentile TotalCount 1/(1-Percentile)
//   <blank line>
//   one row per percentile step: "%12.Nf %2.12f %10d %14.2f" (N = significant digits),
//   the last row at percentile 1.000000000000 without the 1/(1-Percentile) column,
//   #[Mean    = %12.3f, StdDeviation   = %12.3f]
//   #[Max     = %12.3f, Total count    = %12d]
//   #[Buckets = %12d, SubBuckets     = %12d]
//
// Rows follow HdrHistogram's percentile iterator: steps of 100 / (ticks * 2^k) percent,
// where k grows by one each time the remaining distance to 100% halves, so the tail is
// sampled ever more finely. Values are bucket highest-equivalents (Max is the highest
// equivalent of max()), Mean/StdDeviation are Histogram::mean()/stddev(); all values are
// divided by `value_unit_scale` (e.g. 1000.0 to print microseconds from nanoseconds).
// An empty histogram yields the header and the footer with zeros and no rows.
#pragma once
#include <ostream>

#include "core/histogram.h"

namespace pathbench {

// Requires value_unit_scale > 0 and ticks_per_half_distance >= 1 (checked, aborts).
// Stream errors are left in `out`'s state for the caller to report.
void write_percentile_distribution(const Histogram& h, std::ostream& out,
                                   double value_unit_scale, int ticks_per_half_distance = 5);

}  // namespace pathbench
