// Known-answer tests for the arrival schedules.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "measure/schedule.h"

using namespace pathbench;

namespace {

std::vector<Nanos> all_arrivals(ArrivalSchedule& s) {
  std::vector<Nanos> out;
  for (Nanos t = s.next(); t != kNever; t = s.next()) out.push_back(t);
  return out;
}

}  // namespace

TEST_CASE("schedule: phases from the load config") {
  LoadConfig load;
  load.warmup_ns = 2 * kNanosPerSecond;
  load.duration_ns = 5 * kNanosPerSecond;
  auto phases = plan_phases(load);
  REQUIRE(phases.size() == 2);
  CHECK(phases[0].name == "warmup");
  CHECK_FALSE(phases[0].measured);
  CHECK(phases[1].name == "main");
  CHECK(phases[1].start_ns == 2 * kNanosPerSecond);
  CHECK(phases[1].end_ns == 7 * kNanosPerSecond);
  CHECK(phase_at(phases, 0) == 0);
  CHECK(phase_at(phases, 2 * kNanosPerSecond - 1) == 0);
  CHECK(phase_at(phases, 2 * kNanosPerSecond) == 1);
  CHECK(phase_at(phases, 7 * kNanosPerSecond) == 2);
  load.warmup_ns = 0;
  CHECK(plan_phases(load).size() == 1);
}

TEST_CASE("schedule: constant arrivals are exact and evenly interleaved across threads") {
  std::vector<PhasePlan> phases{{"main", 0, kNanosPerSecond, 1000.0, true}};
  std::vector<Nanos> merged;
  for (int t = 0; t < 4; ++t) {
    ArrivalSchedule s(phases, Arrival::constant, 4, t, 1);
    auto times = all_arrivals(s);
    CHECK(times.size() == 250);
    merged.insert(merged.end(), times.begin(), times.end());
  }
  std::sort(merged.begin(), merged.end());
  REQUIRE(merged.size() == 1000);
  for (std::size_t i = 0; i < merged.size(); ++i) CHECK(merged[i] == static_cast<Nanos>(i) * 1'000'000);
}

TEST_CASE("schedule: constant arrivals do not drift over many intervals") {
  // 3 per second does not divide a second evenly; arrival k must still be at k/3 s.
  std::vector<PhasePlan> phases{{"main", 0, 1000 * kNanosPerSecond, 3.0, true}};
  ArrivalSchedule s(phases, Arrival::constant, 1, 0, 1);
  auto times = all_arrivals(s);
  REQUIRE(times.size() == 3000);
  CHECK(times[2999] == std::llround(2999 * 1e9 / 3));
}

TEST_CASE("schedule: phases change the rate where they meet") {
  std::vector<PhasePlan> phases{{"warmup", 0, kNanosPerSecond, 100.0, false},
                                {"main", kNanosPerSecond, 3 * kNanosPerSecond, 1000.0, true}};
  ArrivalSchedule s(phases, Arrival::constant, 1, 0, 1);
  auto times = all_arrivals(s);
  auto in_first = std::count_if(times.begin(), times.end(), [](Nanos t) { return t < kNanosPerSecond; });
  CHECK(in_first == 100);
  CHECK(times.size() == 100 + 2000);
  CHECK(times[100] == kNanosPerSecond);
}

TEST_CASE("schedule: poisson arrivals have the right mean, spread and are reproducible") {
  std::vector<PhasePlan> phases{{"main", 0, 100 * kNanosPerSecond, 1000.0, true}};
  ArrivalSchedule a(phases, Arrival::poisson, 1, 0, 42);
  ArrivalSchedule b(phases, Arrival::poisson, 1, 0, 42);
  ArrivalSchedule c(phases, Arrival::poisson, 1, 0, 43);
  auto ta = all_arrivals(a), tb = all_arrivals(b), tc = all_arrivals(c);
  CHECK(ta == tb);
  CHECK(ta != tc);
  // 100,000 expected; the standard deviation of a Poisson count is sqrt(n) ~ 316.
  CHECK(std::abs(static_cast<double>(ta.size()) - 100000.0) < 5 * 316);
  // Exponential gaps: the coefficient of variation is 1.
  double sum = 0, sum2 = 0;
  for (std::size_t i = 1; i < ta.size(); ++i) {
    double gap = static_cast<double>(ta[i] - ta[i - 1]);
    sum += gap;
    sum2 += gap * gap;
  }
  double n = static_cast<double>(ta.size() - 1);
  double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  CHECK(mean == doctest::Approx(1e6).epsilon(0.02));
  CHECK(sd / mean == doctest::Approx(1.0).epsilon(0.03));
  CHECK(std::is_sorted(ta.begin(), ta.end()));
}

TEST_CASE("schedule: threads of a poisson run are independent streams") {
  std::vector<PhasePlan> phases{{"main", 0, kNanosPerSecond, 1000.0, true}};
  ArrivalSchedule t0(phases, Arrival::poisson, 2, 0, 42);
  ArrivalSchedule t1(phases, Arrival::poisson, 2, 1, 42);
  CHECK(all_arrivals(t0) != all_arrivals(t1));
}

TEST_CASE("schedule: a linear ramp places arrivals by the integral of its rate") {
  // 1,000/s rising to 3,000/s over 1 s: 2,000 arrivals; N(t) = 1000 t + 1000 t^2.
  std::vector<PhasePlan> phases{{"ramp", 0, kNanosPerSecond, 1000.0, true, 3000.0}};
  std::vector<Nanos> merged;
  for (int t = 0; t < 2; ++t) {
    ArrivalSchedule s(phases, Arrival::constant, 2, t, 1);
    auto times = all_arrivals(s);
    merged.insert(merged.end(), times.begin(), times.end());
  }
  std::sort(merged.begin(), merged.end());
  CHECK(merged.size() == 2000);
  auto in = [&](Nanos from, Nanos to) {
    return std::count_if(merged.begin(), merged.end(), [&](Nanos t) { return t >= from && t < to; });
  };
  CHECK(in(0, 100 * kNanosPerMilli) == 110);                                // N(0.1)
  CHECK(in(900 * kNanosPerMilli, kNanosPerSecond) == 290);                   // N(1) - N(0.9)
  CHECK(in(0, 500 * kNanosPerMilli) == 750);                                 // N(0.5)
  // A ramp down is the mirror image.
  std::vector<PhasePlan> down{{"down", 0, kNanosPerSecond, 3000.0, true, 1000.0}};
  ArrivalSchedule d(down, Arrival::constant, 1, 0, 1);
  auto times = all_arrivals(d);
  CHECK(times.size() == 2000);
  CHECK(std::count_if(times.begin(), times.end(), [](Nanos t) { return t < 100 * kNanosPerMilli; }) == 290);
}

TEST_CASE("schedule: steps and ramps from the scenario's load phases, after the warm-up") {
  LoadConfig load;
  load.rate_per_s = 100;
  load.warmup_ns = kNanosPerSecond;
  load.phases = {{"low", 2 * kNanosPerSecond, 0, 0}, {"ramp", kNanosPerSecond, 200, 400}, {"high", kNanosPerSecond, 800, 0}};
  auto phases = plan_phases(load);
  REQUIRE(phases.size() == 4);
  CHECK(phases[0].name == "warmup");
  CHECK(phases[1].name == "low");
  CHECK(phases[1].rate_per_s == 100);  // the load's rate when the phase names none
  CHECK(phases[2].start_ns == 3 * kNanosPerSecond);
  CHECK(phases[2].final_rate_per_s() == 400);
  CHECK(phases[2].mean_rate_per_s() == 300);
  CHECK(phases[3].end_ns == 5 * kNanosPerSecond);
  ArrivalSchedule s(phases, Arrival::constant, 1, 0, 1);
  auto times = all_arrivals(s);
  CHECK(times.size() == 100 + 200 + 300 + 800);
}
