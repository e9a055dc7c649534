#include "core/thread_cpu.h"

#include <sys/resource.h>

#include <map>
#include <mutex>

namespace pathbench {

namespace {

std::mutex& ended_mutex() {
  static std::mutex m;
  return m;
}

std::map<std::string, Nanos, std::less<>>& ended() {
  static std::map<std::string, Nanos, std::less<>> by_name;
  return by_name;
}

}  // namespace

Nanos this_thread_cpu_ns() noexcept {
  rusage usage{};
  if (getrusage(RUSAGE_THREAD, &usage) != 0) return 0;
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * kNanosPerSecond +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * kNanosPerMicro;
}

void record_ended_thread_cpu(std::string_view thread_name, Nanos cpu_ns) {
  std::lock_guard lock(ended_mutex());
  auto it = ended().find(thread_name);
  if (it == ended().end()) it = ended().emplace(std::string(thread_name), 0).first;
  it->second += cpu_ns;
}

std::vector<std::pair<std::string, Nanos>> ended_threads_cpu() {
  std::lock_guard lock(ended_mutex());
  return {ended().begin(), ended().end()};
}

}  // namespace pathbench
