#include "measure/cpu.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/thread_cpu.h"

namespace pathbench {

CpuGroup cpu_group_of(std::string_view name) noexcept {
  // The load generator's threads, and a RabbitMQ requester's I/O thread working for one of them.
  if (name.rfind("pb-client", 0) == 0 || name.rfind("pb-amqp-c", 0) == 0) return CpuGroup::client;
  if (name.rfind("pb-bal", 0) == 0) return CpuGroup::balancer;
  if (name.rfind("pb-echo", 0) == 0) return CpuGroup::echo;
  if (name.rfind("pb-broker", 0) == 0) return CpuGroup::broker;  // native server and its fronts
  // A worker's SQL threads, its WebSocket front and its queue consumers ("pb-wk0-sql1",
  // "pb-wk0-ws", "pb-mq-0-mq1", "pb-rabb-0-amqp0", "pb-nats-0-nats1").
  if (name.rfind("pb-", 0) == 0 &&
      (name.find("-sql") != std::string_view::npos || name.ends_with("-ws") || name.find("-mq") != std::string_view::npos ||
       name.find("-amqp") != std::string_view::npos || name.find("-nats") != std::string_view::npos))
    return CpuGroup::worker;
  if (name.rfind("pb-", 0) == 0 || name == "pathbench") return CpuGroup::other;
  return CpuGroup::grpc;  // gRPC's executor, poller and resolver threads
}

CpuSample sample_cpu() {
  CpuSample s;
  static const double ns_per_tick = 1e9 / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream in(entry.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    // "tid (comm) state ppid ...": comm may hold spaces or ')', so split at the last ')'.
    auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::string_view comm(line.data() + open + 1, close - open - 1);
    std::istringstream fields(line.substr(close + 2));
    std::string field;
    long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {  // field 3 is the state; utime is 14, stime 15
      if (i == 14) utime = std::stoll(field);
      if (i == 15) stime = std::stoll(field);
    }
    s.by_group_ns[static_cast<std::size_t>(cpu_group_of(comm))] +=
        static_cast<Nanos>(static_cast<double>(utime + stime) * ns_per_tick);
  }
  // Helper threads that have ended left their time behind (core/thread_cpu.h).
  for (auto& [name, ns] : ended_threads_cpu()) s.by_group_ns[static_cast<std::size_t>(cpu_group_of(name))] += ns;
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0)
    s.process_ns = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * kNanosPerSecond +
                   (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * kNanosPerMicro;
  return s;
}

CpuSample cpu_delta(const CpuSample& before, const CpuSample& after) {
  CpuSample d;
  for (std::size_t i = 0; i < kCpuGroupCount; ++i) d.by_group_ns[i] = std::max<Nanos>(0, after.by_group_ns[i] - before.by_group_ns[i]);
  d.process_ns = std::max<Nanos>(0, after.process_ns - before.process_ns);
  return d;
}

CpuSample& attribute_remainder(CpuSample& delta) noexcept {
  Nanos named = 0;
  for (std::size_t i = 0; i < kCpuGroupCount; ++i)
    if (i != static_cast<std::size_t>(CpuGroup::unattributed)) named += delta.by_group_ns[i];
  delta.by_group_ns[static_cast<std::size_t>(CpuGroup::unattributed)] = std::max<Nanos>(0, delta.process_ns - named);
  return delta;
}

}  // namespace pathbench
