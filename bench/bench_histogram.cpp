// Microbenchmarks for Histogram: the per-request record() cost (the hot path of every
// load-generator thread), the per-interval merge, and percentile queries.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/histogram.h"

namespace {

using pathbench::Histogram;

// Latencies spread log-uniformly over 1 µs .. 10 ms, so successive records hit
// different buckets and cache lines like real traffic does, instead of one hot slot.
std::vector<std::int64_t> spread_latencies_ns(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> exponent(std::log(1e3), std::log(1e7));
  std::vector<std::int64_t> values(n);
  for (auto& v : values) v = static_cast<std::int64_t>(std::exp(exponent(rng)));
  return values;
}

Histogram filled_histogram(std::size_t n, std::uint64_t seed) {
  Histogram h;
  for (std::int64_t v : spread_latencies_ns(n, seed)) h.record(v);
  return h;
}

void BM_RecordSpread(benchmark::State& state) {
  constexpr std::size_t kValues = std::size_t{1} << 16;  // power of two: index by mask
  const std::vector<std::int64_t> values = spread_latencies_ns(kValues, 1);
  Histogram h;
  std::size_t i = 0;
  for (auto _ : state) {
    h.record(values[i]);
    i = (i + 1) & (kValues - 1);
  }
  benchmark::DoNotOptimize(h.total_count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordSpread);

void BM_RecordConstant(benchmark::State& state) {
  Histogram h;
  std::int64_t value = 250'000;  // 250 µs
  for (auto _ : state) {
    benchmark::DoNotOptimize(value);  // keep the argument opaque so nothing is hoisted
    h.record(value);
  }
  benchmark::DoNotOptimize(h.total_count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordConstant);

// What one load-generator thread hands over each reporting interval: merge its
// per-second histogram into the run total.
void BM_MergeSpread(benchmark::State& state) {
  const Histogram from = filled_histogram(static_cast<std::size_t>(state.range(0)), 2);
  Histogram into = filled_histogram(static_cast<std::size_t>(state.range(0)), 3);
  for (auto _ : state) {
    into.merge(from);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(into.total_count());
}
BENCHMARK(BM_MergeSpread)->Arg(1'000)->Arg(100'000);

void BM_ValueAtPercentile(benchmark::State& state) {
  const Histogram h = filled_histogram(1'000'000, 4);
  const double percentile = static_cast<double>(state.range(0)) / 1000.0;
  for (auto _ : state) benchmark::DoNotOptimize(h.value_at_percentile(percentile));
}
BENCHMARK(BM_ValueAtPercentile)->Arg(50'000)->Arg(99'000)->Arg(99'990);

}  // namespace
