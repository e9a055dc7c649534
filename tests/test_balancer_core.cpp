// BalancerCore's decisions driven with a fake clock: routing (least outstanding, p2c, round
// robin), passive ejection and its backoff, health checks, admission, counters, and a
// multi-threaded smoke test (run it under ThreadSanitizer too).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "roles/balancer_core.h"

namespace {

using pathbench::BackendResult;
using pathbench::BalancerCore;
using pathbench::BalancerPolicyConfig;
using pathbench::kNanosPerMilli;
using pathbench::kNanosPerSecond;
using pathbench::Nanos;
using pathbench::RoutingPolicy;
using Kind = BalancerCore::Pick::Kind;

std::vector<std::string> addresses(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("127.0.0.1:" + std::to_string(50051 + i));
  return out;
}

BalancerPolicyConfig config_for(RoutingPolicy policy) {
  BalancerPolicyConfig config;
  config.policy = policy;
  return config;
}

// A core whose clock is a variable the test moves by hand.
struct FakeClocked {
  Nanos now = 0;
  BalancerCore core;
  FakeClocked(int backends, const BalancerPolicyConfig& config)
      : core(addresses(backends), config, [this] { return now; }) {}
};

int routed(BalancerCore& core) {
  const auto p = core.pick();
  REQUIRE(p.kind == Kind::routed);
  return p.backend;
}

std::vector<int> in_flight(const BalancerCore& core) {
  std::vector<int> out;
  for (const auto& s : core.snapshot()) out.push_back(s.in_flight);
  return out;
}

bool ejected(const BalancerCore& core, int backend) {
  return core.snapshot()[static_cast<std::size_t>(backend)].ejected;
}

// Picks and releases at once (success) `n` times; returns how often each backend was chosen.
std::vector<int> shares(BalancerCore& core, int n) {
  std::vector<int> count(core.size(), 0);
  for (int i = 0; i < n; ++i) {
    const int b = routed(core);
    ++count[static_cast<std::size_t>(b)];
    core.release(b, BackendResult::success);
  }
  return count;
}

// Closed loop of `clients` clients over 3 infinite-server backends, backend 2 taking 10x as
// long; returns each backend's share of `requests` requests. Events are ordered by (time,
// sequence) so the run is deterministic.
std::array<double, 3> simulate_slow_backend(RoutingPolicy policy, int clients, int requests) {
  constexpr std::array<Nanos, 3> kServiceNs{1'000, 1'000, 10'000};
  FakeClocked f(3, config_for(policy));
  using Event = std::tuple<Nanos, std::uint64_t, int>;  // completion time, sequence, backend
  std::priority_queue<Event, std::vector<Event>, std::greater<>> completions;
  std::array<int, 3> count{};
  std::uint64_t sequence = 0;
  int issued = 0;
  auto issue = [&] {
    const int b = routed(f.core);
    ++count[static_cast<std::size_t>(b)];
    ++issued;
    completions.emplace(f.now + kServiceNs[static_cast<std::size_t>(b)], sequence++, b);
  };
  for (int c = 0; c < clients; ++c) issue();
  while (!completions.empty()) {
    const auto [at, seq, b] = completions.top();
    completions.pop();
    f.now = at;
    f.core.release(b, BackendResult::success);
    if (issued < requests) issue();
  }
  CHECK(f.core.pending() == 0);
  std::array<double, 3> out{};
  for (std::size_t i = 0; i < 3; ++i) out[i] = static_cast<double>(count[i]) / requests;
  return out;
}

}  // namespace

TEST_CASE("balancer core: routing policy names round-trip") {
  for (auto policy : {RoutingPolicy::least_outstanding, RoutingPolicy::p2c, RoutingPolicy::round_robin}) {
    CHECK(pathbench::routing_policy_from_string(pathbench::to_string(policy)) == policy);
  }
  CHECK(pathbench::to_string(RoutingPolicy::p2c) == "p2c");
  CHECK_FALSE(pathbench::routing_policy_from_string("random").has_value());
}

TEST_CASE("balancer core: least_outstanding picks the least loaded backend exactly") {
  FakeClocked f(3, config_for(RoutingPolicy::least_outstanding));
  // Six held picks over three idle backends go round: two each.
  std::vector<int> first;
  for (int i = 0; i < 6; ++i) first.push_back(routed(f.core));
  CHECK(first == std::vector<int>{0, 1, 2, 0, 1, 2});
  f.core.release(1, BackendResult::success);
  f.core.release(1, BackendResult::success);
  f.core.release(2, BackendResult::success);
  REQUIRE(in_flight(f.core) == std::vector<int>{2, 0, 1});
  CHECK(routed(f.core) == 1);  // {2,1,1}
  CHECK(routed(f.core) == 2);  // tie 1/2: the rotation moves on past 1
  CHECK(routed(f.core) == 1);  // {2,2,2}
  CHECK(in_flight(f.core) == std::vector<int>{2, 2, 2});

  SUBCASE("every pick is a minimum under a mixed sequence of picks and releases") {
    std::vector<int> held;
    for (int b : {0, 0, 1, 1, 2, 2}) held.push_back(b);
    std::uint64_t lcg = 12345;
    for (int step = 0; step < 5000; ++step) {
      lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
      // Loads wander between 0 and 64 in flight, picks and releases interleaved at random.
      if (held.empty() || (held.size() < 64 && (lcg >> 33) % 2 == 0)) {
        const auto before = in_flight(f.core);
        const int b = routed(f.core);
        const int least = *std::min_element(before.begin(), before.end());
        REQUIRE(before[static_cast<std::size_t>(b)] == least);
        held.push_back(b);
      } else {
        const std::size_t k = (lcg >> 40) % held.size();
        f.core.release(held[k], BackendResult::success);
        held[k] = held.back();
        held.pop_back();
      }
    }
  }
}

TEST_CASE("balancer core: least_outstanding spreads ties evenly") {
  FakeClocked f(4, config_for(RoutingPolicy::least_outstanding));
  CHECK(shares(f.core, 4000) == std::vector<int>{1000, 1000, 1000, 1000});
  // Equal non-zero loads too.
  for (int i = 0; i < 8; ++i) routed(f.core);
  REQUIRE(in_flight(f.core) == std::vector<int>{2, 2, 2, 2});
  CHECK(shares(f.core, 400) == std::vector<int>{100, 100, 100, 100});
}

TEST_CASE("balancer core: a slow backend gets a smaller share under least_outstanding") {
  const auto lor = simulate_slow_backend(RoutingPolicy::least_outstanding, 12, 30'000);
  const auto rr = simulate_slow_backend(RoutingPolicy::round_robin, 12, 30'000);
  const auto p2c = simulate_slow_backend(RoutingPolicy::p2c, 12, 30'000);
  INFO("least_outstanding shares ", lor[0], " ", lor[1], " ", lor[2]);
  INFO("p2c shares ", p2c[0], " ", p2c[1], " ", p2c[2]);
  // In-flight counts equalise, so each backend's share follows its speed: 1/21 for the slow one.
  CHECK(lor[2] == doctest::Approx(1.0 / 21).epsilon(0.2));
  CHECK(lor[0] == doctest::Approx(lor[1]).epsilon(0.02));
  CHECK(rr[2] == doctest::Approx(1.0 / 3).epsilon(0.001));  // blind to speed
  CHECK(p2c[2] < 0.2);
}

TEST_CASE("balancer core: p2c never picks the busier of its two choices") {
  SUBCASE("two backends: always the less loaded one") {
    FakeClocked f(2, config_for(RoutingPolicy::p2c));
    routed(f.core);
    routed(f.core);  // the second goes to the other backend
    REQUIRE(in_flight(f.core) == std::vector<int>{1, 1});
    f.core.release(0, BackendResult::success);
    CHECK(shares(f.core, 1000) == std::vector<int>{1000, 0});
    routed(f.core);
    f.core.release(1, BackendResult::success);
    CHECK(shares(f.core, 1000) == std::vector<int>{0, 1000});
  }
  SUBCASE("four backends with loads 0,1,2,3: chosen by how many pairs each wins") {
    FakeClocked f(4, config_for(RoutingPolicy::p2c));
    for (int i = 0; i < 40; ++i) routed(f.core);
    auto load = in_flight(f.core);
    const std::vector<int> target{0, 1, 2, 3};
    for (std::size_t b = 0; b < 4; ++b) {
      REQUIRE(load[b] >= target[b]);
      while (load[b] > target[b]) {
        f.core.release(static_cast<int>(b), BackendResult::success);
        --load[b];
      }
    }
    REQUIRE(in_flight(f.core) == target);
    // Of the 6 equally likely pairs, backend 0 wins 3, backend 1 wins 2, backend 2 wins 1 and
    // backend 3 none; a choice of the same backend twice would let backend 3 win sometimes.
    const auto count = shares(f.core, 12'000);
    CHECK(count[3] == 0);
    CHECK(count[0] == doctest::Approx(6000).epsilon(0.05));
    CHECK(count[1] == doctest::Approx(4000).epsilon(0.05));
    CHECK(count[2] == doctest::Approx(2000).epsilon(0.08));
  }
}

TEST_CASE("balancer core: p2c is deterministic per seed") {
  auto sequence = [](std::uint64_t seed) {
    auto config = config_for(RoutingPolicy::p2c);
    config.seed = seed;
    FakeClocked f(5, config);
    std::vector<int> picks;
    std::vector<int> held;
    for (int i = 0; i < 2000; ++i) {
      const int b = routed(f.core);
      picks.push_back(b);
      held.push_back(b);
      if (i % 3 == 2) {  // release the oldest two of every three: loads vary but stay small
        f.core.release(held[0], BackendResult::success);
        f.core.release(held[1], BackendResult::success);
        held.erase(held.begin(), held.begin() + 2);
      }
    }
    return picks;
  };
  CHECK(sequence(7) == sequence(7));
  CHECK(sequence(7) != sequence(8));
}

TEST_CASE("balancer core: round_robin cycles and skips ejected backends") {
  FakeClocked f(3, config_for(RoutingPolicy::round_robin));
  std::vector<int> picks;
  for (int i = 0; i < 6; ++i) {
    picks.push_back(routed(f.core));
    f.core.release(picks.back(), BackendResult::success);
  }
  CHECK(picks == std::vector<int>{0, 1, 2, 0, 1, 2});
  // Held requests do not matter to round robin.
  CHECK(routed(f.core) == 0);
  CHECK(routed(f.core) == 1);
  f.core.release(1, BackendResult::transport_failure);  // ejects backend 1
  picks.clear();
  for (int i = 0; i < 4; ++i) picks.push_back(routed(f.core));
  CHECK(picks == std::vector<int>{2, 0, 2, 0});
  f.now = kNanosPerSecond;  // the ejection is over
  picks.clear();
  for (int i = 0; i < 3; ++i) picks.push_back(routed(f.core));
  CHECK(picks == std::vector<int>{1, 2, 0});
}

TEST_CASE("balancer core: a transport failure ejects at once") {
  FakeClocked f(2, config_for(RoutingPolicy::least_outstanding));
  f.now = 5 * kNanosPerSecond;
  const int b = routed(f.core);
  f.core.release(b, BackendResult::transport_failure);
  const auto s = f.core.snapshot()[static_cast<std::size_t>(b)];
  CHECK(s.ejected);
  CHECK(s.ejections == 1);
  CHECK(s.failures == 1);
  CHECK(s.ejected_until_ns == 6 * kNanosPerSecond);
  for (int i = 0; i < 10; ++i) CHECK(routed(f.core) == 1 - b);
}

TEST_CASE("balancer core: failure_threshold consecutive failures eject") {
  FakeClocked f(2, config_for(RoutingPolicy::round_robin));
  auto fail_on_0 = [&](BackendResult result) {
    int b = routed(f.core);
    if (b != 0) {
      f.core.release(b, BackendResult::success);
      b = routed(f.core);
    }
    REQUIRE(b == 0);
    f.core.release(0, result);
  };
  for (int i = 0; i < 4; ++i) fail_on_0(BackendResult::failure);
  CHECK_FALSE(ejected(f.core, 0));
  fail_on_0(BackendResult::success);  // resets the streak
  for (int i = 0; i < 4; ++i) fail_on_0(BackendResult::failure);
  CHECK_FALSE(ejected(f.core, 0));
  fail_on_0(BackendResult::failure);  // the fifth in a row
  CHECK(ejected(f.core, 0));
  const auto s = f.core.snapshot()[0];
  CHECK(s.failures == 9);
  CHECK(s.ejections == 1);
  CHECK(s.ejected_until_ns == kNanosPerSecond);
}

TEST_CASE("balancer core: ejection time doubles per ejection in a row, capped, reset by success") {
  auto config = config_for(RoutingPolicy::least_outstanding);
  config.base_ejection_ns = 1 * kNanosPerSecond;
  config.max_ejection_ns = 5 * kNanosPerSecond;
  FakeClocked f(1, config);

  const std::vector<Nanos> expected{1, 2, 4, 5, 5};
  for (Nanos seconds : expected) {
    const Nanos start = f.now;
    REQUIRE(routed(f.core) == 0);
    f.core.release(0, BackendResult::transport_failure);
    CHECK(f.core.snapshot()[0].ejected_until_ns == start + seconds * kNanosPerSecond);
    f.now = start + seconds * kNanosPerSecond - 1;
    CHECK(f.core.pick().kind == Kind::no_backend);
    f.now = start + seconds * kNanosPerSecond;  // ends exactly at ejected_until
    CHECK_FALSE(ejected(f.core, 0));
  }
  CHECK(f.core.snapshot()[0].ejections == 5);

  // A success in the half-open state resets n: the next ejection is the base time again.
  REQUIRE(routed(f.core) == 0);
  f.core.release(0, BackendResult::success);
  REQUIRE(routed(f.core) == 0);
  f.core.release(0, BackendResult::transport_failure);
  CHECK(f.core.snapshot()[0].ejected_until_ns == f.now + kNanosPerSecond);
}

TEST_CASE("balancer core: half-open after a threshold ejection: one more failure ejects again") {
  FakeClocked f(1, config_for(RoutingPolicy::least_outstanding));
  for (int i = 0; i < 5; ++i) {
    REQUIRE(routed(f.core) == 0);
    f.core.release(0, BackendResult::failure);
  }
  REQUIRE(ejected(f.core, 0));
  f.now = kNanosPerSecond;
  REQUIRE(routed(f.core) == 0);  // routable again
  f.core.release(0, BackendResult::failure);
  CHECK(ejected(f.core, 0));
  CHECK(f.core.snapshot()[0].ejected_until_ns == 3 * kNanosPerSecond);  // 2x base

  SUBCASE("a success in the half-open state resets the streak") {
    f.now = 3 * kNanosPerSecond;
    REQUIRE(routed(f.core) == 0);
    f.core.release(0, BackendResult::success);
    for (int i = 0; i < 4; ++i) {
      REQUIRE(routed(f.core) == 0);
      f.core.release(0, BackendResult::failure);
    }
    CHECK_FALSE(ejected(f.core, 0));
  }
}

TEST_CASE("balancer core: requests finishing on an already ejected backend do not eject it again") {
  FakeClocked f(2, config_for(RoutingPolicy::round_robin));
  std::vector<int> on0;
  for (int i = 0; i < 6; ++i) {
    const int b = routed(f.core);
    if (b == 0) on0.push_back(b);
  }
  REQUIRE(on0.size() == 3);
  for (int b : on0) f.core.release(b, BackendResult::transport_failure);
  const auto s = f.core.snapshot()[0];
  CHECK(s.ejections == 1);
  CHECK(s.failures == 3);
  CHECK(s.in_flight == 0);
  CHECK(s.ejected_until_ns == kNanosPerSecond);
}

TEST_CASE("balancer core: health checks eject after misses and re-admit after passes") {
  FakeClocked f(2, config_for(RoutingPolicy::round_robin));
  f.core.health_result(0, false);
  f.core.health_result(0, false);
  f.core.health_result(0, true);  // resets the misses
  f.core.health_result(0, false);
  f.core.health_result(0, false);
  CHECK_FALSE(ejected(f.core, 0));
  f.core.health_result(0, false);  // third miss in a row
  CHECK(ejected(f.core, 0));
  CHECK(f.core.snapshot()[0].ejections == 1);
  for (int i = 0; i < 4; ++i) CHECK(routed(f.core) == 1);

  f.now = 100 * kNanosPerMilli;
  f.core.health_result(0, true);
  CHECK(ejected(f.core, 0));
  f.core.health_result(0, false);  // resets the passes; counted but no new ejection
  f.core.health_result(0, true);
  CHECK(ejected(f.core, 0));
  CHECK(f.core.snapshot()[0].ejections == 1);
  f.now = 200 * kNanosPerMilli;
  f.core.health_result(0, true);  // second pass in a row: back before the second is over
  CHECK_FALSE(ejected(f.core, 0));
  CHECK(f.core.snapshot()[0].ejected_until_ns == 200 * kNanosPerMilli);
  std::vector<int> picks;
  for (int i = 0; i < 4; ++i) {
    picks.push_back(routed(f.core));
    f.core.release(picks.back(), BackendResult::success);
  }
  CHECK(std::count(picks.begin(), picks.end(), 0) == 2);
}

TEST_CASE("balancer core: health misses that outlast the ejection eject again with 2x time") {
  FakeClocked f(1, config_for(RoutingPolicy::least_outstanding));
  for (int i = 0; i < 3; ++i) f.core.health_result(0, false);
  REQUIRE(ejected(f.core, 0));
  f.now = 500 * kNanosPerMilli;
  f.core.health_result(0, false);  // still ejected: no new ejection
  CHECK(f.core.snapshot()[0].ejections == 1);
  f.now = kNanosPerSecond;
  CHECK(f.core.pick().kind == Kind::routed);  // half-open
  f.core.health_result(0, false);
  CHECK(ejected(f.core, 0));
  CHECK(f.core.snapshot()[0].ejected_until_ns == 3 * kNanosPerSecond);
}

TEST_CASE("balancer core: passes from before an ejection do not re-admit, and a pass streak resets n") {
  FakeClocked f(1, config_for(RoutingPolicy::least_outstanding));
  f.core.health_result(0, true);
  f.core.health_result(0, true);
  f.core.health_result(0, true);
  REQUIRE(routed(f.core) == 0);
  f.core.release(0, BackendResult::transport_failure);
  f.core.health_result(0, true);
  CHECK(ejected(f.core, 0));
  f.core.health_result(0, true);
  CHECK_FALSE(ejected(f.core, 0));
  // The pass streak also reset n: the next ejection lasts the base time, not twice it.
  f.now = 300 * kNanosPerMilli;
  REQUIRE(routed(f.core) == 0);
  f.core.release(0, BackendResult::transport_failure);
  CHECK(f.core.snapshot()[0].ejected_until_ns == f.now + kNanosPerSecond);
}

TEST_CASE("balancer core: every backend ejected gives no_backend until one comes back") {
  FakeClocked f(3, config_for(RoutingPolicy::least_outstanding));
  for (int i = 0; i < 3; ++i) {
    const int b = routed(f.core);
    f.core.release(b, BackendResult::transport_failure);
  }
  for (int i = 0; i < 3; ++i) CHECK(ejected(f.core, i));
  const auto p = f.core.pick();
  CHECK(p.kind == Kind::no_backend);
  CHECK(p.backend == -1);
  CHECK(f.core.pending() == 0);
  f.core.health_result(1, true);
  f.core.health_result(1, true);
  CHECK(routed(f.core) == 1);
  f.now = kNanosPerSecond;
  CHECK(f.core.pick().kind == Kind::routed);
}

TEST_CASE("balancer core: max_pending answers overloaded and does not count it") {
  auto config = config_for(RoutingPolicy::least_outstanding);
  config.max_pending = 3;
  FakeClocked f(2, config);
  for (int i = 0; i < 3; ++i) routed(f.core);
  CHECK(f.core.pending() == 3);
  for (int i = 0; i < 5; ++i) {
    const auto p = f.core.pick();
    CHECK(p.kind == Kind::overloaded);
    CHECK(p.backend == -1);
  }
  CHECK(f.core.pending() == 3);
  std::uint64_t total_routed = 0;
  for (const auto& s : f.core.snapshot()) total_routed += s.routed;
  CHECK(total_routed == 3);
  f.core.release(0, BackendResult::success);
  CHECK(f.core.pending() == 2);
  CHECK(f.core.pick().kind == Kind::routed);
}

TEST_CASE("balancer core: overloaded is answered before no_backend") {
  auto config = config_for(RoutingPolicy::least_outstanding);
  config.max_pending = 1;
  FakeClocked f(2, config);
  const int held = routed(f.core);
  for (int b = 0; b < 2; ++b) {
    for (int i = 0; i < 3; ++i) f.core.health_result(b, false);
  }
  CHECK(f.core.pick().kind == Kind::overloaded);
  f.core.release(held, BackendResult::success);
  CHECK(f.core.pick().kind == Kind::no_backend);
}

TEST_CASE("balancer core: release decrements in flight and pending") {
  FakeClocked f(2, config_for(RoutingPolicy::round_robin));
  routed(f.core);
  routed(f.core);
  routed(f.core);
  CHECK(in_flight(f.core) == std::vector<int>{2, 1});
  CHECK(f.core.pending() == 3);
  f.core.release(0, BackendResult::success);
  CHECK(in_flight(f.core) == std::vector<int>{1, 1});
  f.core.release(1, BackendResult::failure);  // a failure releases too
  f.core.release(0, BackendResult::success);
  CHECK(in_flight(f.core) == std::vector<int>{0, 0});
  CHECK(f.core.pending() == 0);
}

TEST_CASE("balancer core: snapshot reports addresses and counters") {
  FakeClocked f(2, config_for(RoutingPolicy::round_robin));
  CHECK(f.core.size() == 2);
  CHECK(f.core.address(1) == "127.0.0.1:50052");
  f.now = 10 * kNanosPerSecond;
  for (int i = 0; i < 4; ++i) f.core.release(routed(f.core), BackendResult::success);
  routed(f.core);                                      // backend 0, held
  f.core.release(routed(f.core), BackendResult::failure);  // backend 1
  routed(f.core);                                      // backend 0, held
  f.core.release(0, BackendResult::transport_failure);
  const auto s = f.core.snapshot();
  REQUIRE(s.size() == 2);
  CHECK(s[0].address == "127.0.0.1:50051");
  CHECK(s[0].routed == 4);
  CHECK(s[0].in_flight == 1);
  CHECK(s[0].failures == 1);
  CHECK(s[0].ejections == 1);
  CHECK(s[0].ejected);
  CHECK(s[0].ejected_until_ns == 11 * kNanosPerSecond);
  CHECK(s[1].routed == 3);
  CHECK(s[1].in_flight == 0);
  CHECK(s[1].failures == 1);
  CHECK(s[1].ejections == 0);
  CHECK_FALSE(s[1].ejected);
  CHECK(s[1].ejected_until_ns == 0);
}

TEST_CASE("balancer core: concurrent pick/release keep the accounting exact") {
  constexpr int kThreads = 4;
  constexpr int kPairs = 100'000;
  for (auto policy : {RoutingPolicy::least_outstanding, RoutingPolicy::p2c, RoutingPolicy::round_robin}) {
    BalancerCore core(addresses(3), config_for(policy));  // the real steady clock
    std::vector<std::thread> threads;
    std::array<int, kThreads> not_routed{};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&core, &not_routed, t] {
        for (int i = 0; i < kPairs; ++i) {
          const auto p = core.pick();
          if (p.kind != Kind::routed) {
            ++not_routed[static_cast<std::size_t>(t)];
            continue;
          }
          core.release(p.backend, BackendResult::success);
        }
      });
    }
    // The health checker and a stats reader run alongside.
    threads.emplace_back([&core] {
      for (int i = 0; i < 2'000; ++i) {
        core.health_result(i % 3, true);
        (void)core.snapshot();
        (void)core.pending();
      }
    });
    for (auto& th : threads) th.join();
    std::uint64_t total = 0;
    for (const auto& s : core.snapshot()) {
      CHECK(s.in_flight == 0);
      total += s.routed;
    }
    for (int n : not_routed) CHECK(n == 0);
    CHECK(total == std::uint64_t{kThreads} * kPairs);
    CHECK(core.pending() == 0);
  }
}

TEST_CASE("balancer core: pick() reads the clock only while a backend is ejected") {
  Nanos now = 0;
  int clock_reads = 0;
  BalancerCore core(addresses(2), config_for(RoutingPolicy::least_outstanding), [&] {
    ++clock_reads;
    return now;
  });
  shares(core, 100);
  CHECK(clock_reads == 0);

  core.release(routed(core), BackendResult::transport_failure);  // ejection ends by time
  now = kNanosPerSecond;
  shares(core, 1);  // notices the end
  clock_reads = 0;
  shares(core, 100);
  CHECK(clock_reads == 0);

  core.release(routed(core), BackendResult::transport_failure);  // ejection ended by passes
  core.health_result(0, true);
  core.health_result(0, true);
  core.health_result(1, true);
  core.health_result(1, true);
  clock_reads = 0;
  CHECK(shares(core, 100) == std::vector<int>{50, 50});
  CHECK(clock_reads == 0);
}

TEST_CASE("balancer core: a backend back from ejection gets one request at a time until one succeeds") {
  // A hung worker (SIGSTOP) looks idle to least-outstanding once its ejection ends: it must get
  // one probe, not a flood, until it answers.
  FakeClocked f(3, config_for(RoutingPolicy::least_outstanding));
  f.core.health_result(1, false);
  f.core.health_result(1, false);
  f.core.health_result(1, false);
  REQUIRE(ejected(f.core, 1));
  f.now = 2 * kNanosPerSecond;  // the ejection (1 s) is over
  // 30 requests in flight at once: backend 1 gets exactly one of them.
  std::vector<int> taken;
  for (int i = 0; i < 30; ++i) taken.push_back(routed(f.core));
  CHECK(std::count(taken.begin(), taken.end(), 1) == 1);
  for (int b : taken) f.core.release(b, BackendResult::success);
  // It answered: back to full share.
  std::vector<int> more;
  for (int i = 0; i < 30; ++i) more.push_back(routed(f.core));
  CHECK(std::count(more.begin(), more.end(), 1) == 10);
  for (int b : more) f.core.release(b, BackendResult::success);

  SUBCASE("p2c and round_robin keep the probation too") {
    for (auto policy : {RoutingPolicy::p2c, RoutingPolicy::round_robin}) {
      FakeClocked g(2, config_for(policy));
      for (int i = 0; i < 3; ++i) g.core.health_result(0, false);
      REQUIRE(ejected(g.core, 0));
      g.now = 2 * kNanosPerSecond;
      std::vector<int> t;
      for (int i = 0; i < 10; ++i) t.push_back(routed(g.core));
      CHECK(std::count(t.begin(), t.end(), 0) == 1);
      for (int b : t) g.core.release(b, BackendResult::success);
    }
  }
  SUBCASE("a single backend on probation with its probe in flight gives no_backend") {
    FakeClocked g(1, config_for(RoutingPolicy::least_outstanding));
    for (int i = 0; i < 3; ++i) g.core.health_result(0, false);
    g.now = 2 * kNanosPerSecond;
    CHECK(routed(g.core) == 0);
    CHECK(g.core.pick().kind == Kind::no_backend);
    g.core.release(0, BackendResult::success);
    CHECK(routed(g.core) == 0);
    CHECK(routed(g.core) == 0);
    g.core.release(0, BackendResult::success);
    g.core.release(0, BackendResult::success);
  }
}
