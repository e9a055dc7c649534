// Processes below a given one, read from /proc: for the broker supervisor, which ends a private
// server's whole tree (mq/supervisor.h), and for the CPU a private server costs a run.
#pragma once
#include <sys/types.h>

#include <vector>

#include "core/clock.h"

namespace pathbench::mq {

// Every live process whose chain of parents leads to `root` (not `root` itself).
std::vector<pid_t> descendants_of(pid_t root);

// CPU time (user + system) used so far by `root` and every live descendant, plus what `root`
// collected from children it reaped. 0 when `root` is gone.
Nanos tree_cpu_ns(pid_t root);

}  // namespace pathbench::mq
