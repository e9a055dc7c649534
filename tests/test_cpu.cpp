// CPU by role: the groups of a finished sample add up to the process total, even when a thread
// that no group can name (gRPC's pool threads) ended between the two samples.
#include <doctest/doctest.h>
#include <pthread.h>

#include <ctime>
#include <numeric>
#include <thread>

#include "measure/cpu.h"

using namespace pathbench;

namespace {

Nanos thread_cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<Nanos>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

}  // namespace

TEST_CASE("cpu: a thread that ended between the samples is unattributed, and the groups add up to the total") {
  CHECK(cpu_group_of("grpc_global_tim") == CpuGroup::grpc);
  CHECK(kCpuGroupNames[static_cast<std::size_t>(CpuGroup::unattributed)] == "unattributed");
  CpuSample before = sample_cpu();
  CHECK(before.by_group_ns[static_cast<std::size_t>(CpuGroup::unattributed)] == 0);  // a raw sample never has it
  std::thread burner([] {
    pthread_setname_np(pthread_self(), "grpc_pool_0");  // like gRPC's own threads: no report on exit
    const Nanos until = thread_cpu_now() + 80 * kNanosPerMilli;
    volatile std::uint64_t x = 0;
    while (thread_cpu_now() < until) x = x + 1;
  });
  burner.join();
  CpuSample after = sample_cpu();
  CpuSample delta = cpu_delta(before, after);
  CHECK(delta.process_ns >= 80 * kNanosPerMilli);
  // The ended thread is in /proc in neither sample: without the remainder its 80 ms vanish.
  const Nanos named = std::accumulate(delta.by_group_ns.begin(), delta.by_group_ns.end(), Nanos{0});
  CHECK(named < delta.process_ns);
  attribute_remainder(delta);
  const Nanos unattributed = delta.by_group_ns[static_cast<std::size_t>(CpuGroup::unattributed)];
  CHECK(unattributed >= 60 * kNanosPerMilli);  // /proc ticks are 10 ms: the live threads may round up
  const Nanos total = std::accumulate(delta.by_group_ns.begin(), delta.by_group_ns.end(), Nanos{0});
  CHECK(total == delta.process_ns);
}
