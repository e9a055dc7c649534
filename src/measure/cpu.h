// CPU time by role, for the cost per request: sampled before and after each path's run from
// /proc/self/task/*/stat, grouped by the thread names pathbench gives its threads
// ("pb-client-N", "pb-<worker>-sqlN", "pb-bal-…", "pb-echo-N", "pb-broker…"); gRPC's own threads serve the
// client, the balancer and the workers at once, so they form one group of their own. The
// process total comes from getrusage(RUSAGE_SELF) and also counts threads that ended meanwhile.
#pragma once
#include <array>
#include <string_view>

#include "core/clock.h"

namespace pathbench {

// `unattributed` is never a thread's group: it is what the process total holds beyond the named
// groups, i.e. threads that ended between two samples without leaving their time behind (gRPC's
// pool threads shrink when a path's channels close). attribute_remainder() fills it, so the groups
// of a finished sample always add up to process_ns.
enum class CpuGroup : std::uint8_t { client, worker, balancer, echo, broker, grpc, other, unattributed };
inline constexpr std::size_t kCpuGroupCount = 8;
inline constexpr std::array<std::string_view, kCpuGroupCount> kCpuGroupNames{
    "client", "worker", "balancer", "echo", "broker", "grpc", "other", "unattributed"};

CpuGroup cpu_group_of(std::string_view thread_name) noexcept;

struct CpuSample {
  std::array<Nanos, kCpuGroupCount> by_group_ns{};
  Nanos process_ns = 0;
};

CpuSample sample_cpu();
// after - before, clamped at 0 per group (threads that ended take their time with them).
CpuSample cpu_delta(const CpuSample& before, const CpuSample& after);
// Sets the unattributed group of a delta whose groups are final to process_ns minus the other
// groups (0 when they already cover it), and returns it.
CpuSample& attribute_remainder(CpuSample& delta) noexcept;

}  // namespace pathbench
