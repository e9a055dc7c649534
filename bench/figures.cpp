// pathbench_figures: measurements that print figures and assert nothing worth a test, moved out of
// tests/ so the test suite only has pass/fail cases. Each figure is printed on one line; the exit
// status is 1 when a measurement's requests did not all come back ok, 0 otherwise. Needs the real
// brokers' servers (Debian's rabbitmq-server and nats-server); a missing one is named and skipped.
//
//   build/bench/pathbench_figures [rabbitmq|nats]...     (default: both)
#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "mq/supervisor.h"
#include "realmq_drive.h"
#include "skip_guard.h"

using namespace pathbench;
using namespace pathbench::mq;
using namespace pathbench::testing::realmq;

namespace {

// Round trip at 1 in flight and rate at 64 in flight, echo, 2 responder threads (was the
// "(printed)" case of tests/test_realmq.cpp). Returns false when a request did not end ok.
bool realmq_round_trip_and_rate(const std::string& kind) {
  Endpoint e = endpoint_for(kind, "pathbench.test.measure");
  auto responder = make_responder_for(e, 2, echo_handlers());
  drive(e, 500, 1, 10 * kNanosPerSecond);  // warm-up
  Drive one = drive(e, 3000, 1, 20 * kNanosPerSecond);
  Drive many = drive(e, 30000, 64, 20 * kNanosPerSecond);
  fmt::print("{}: 1 in flight p50 {:.1f} us p99 {:.1f} us; 64 in flight {:.0f} req/s (p50 {:.1f} us)\n", kind,
             percentile(one.latencies_ns, 0.5) / 1e3, percentile(one.latencies_ns, 0.99) / 1e3,
             many.answered * 1e9 / std::max<Nanos>(many.elapsed_ns, 1), percentile(many.latencies_ns, 0.5) / 1e3);
  const bool ok = one.count(Outcome::ok) == 3000 && many.count(Outcome::ok) == many.answered;
  if (!ok)
    fmt::print(stderr, "{}: not every request ended ok (1 in flight: {} of 3000; 64 in flight: {} of {})\n", kind,
               one.count(Outcome::ok), many.count(Outcome::ok), many.answered);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  // A private broker's supervisor is this program again (mq/supervisor.h).
  if (int status = pathbench::mq::supervise_main(argc, argv); status >= 0) return status;
  std::vector<std::string> kinds(argv + 1, argv + argc);
  if (kinds.empty()) kinds = {"rabbitmq", "nats"};
  bool all_ok = true;
  for (const auto& kind : kinds) {
    if (kind != "rabbitmq" && kind != "nats") {
      fmt::print(stderr, "usage: pathbench_figures [rabbitmq|nats]...\n");
      return 2;
    }
    if (const std::string missing = pathbench::testing::missing_broker_server(kind); !missing.empty()) {
      fmt::print("{}: skipped: {}\n", kind, missing);
      continue;
    }
    try {
      all_ok = realmq_round_trip_and_rate(kind) && all_ok;
    } catch (const std::exception& error) {
      fmt::print(stderr, "{}: {}\n", kind, error.what());
      all_ok = false;
    }
  }
  stop_all_brokers();
  return all_ok ? 0 : 1;
}
