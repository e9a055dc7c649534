// CPU time of threads, including those that have ended: a thread takes its time out of
// /proc/self/task when it exits, so a helper thread whose cost must still be counted (a RabbitMQ
// requester's I/O thread, working for a client thread) leaves it here, by its name, first.
// measure/cpu.h adds these to its samples. Not for hot paths: a mutex, taken once per thread.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace pathbench {

// CPU (user + system) the calling thread has used so far.
Nanos this_thread_cpu_ns() noexcept;

// Call just before a thread ends: its name and this_thread_cpu_ns(). Thread-safe.
void record_ended_thread_cpu(std::string_view thread_name, Nanos cpu_ns);

// Every ended thread's CPU recorded so far, summed by name (cumulative over the process).
std::vector<std::pair<std::string, Nanos>> ended_threads_cpu();

}  // namespace pathbench
