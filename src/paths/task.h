// Path `task` (seed 003's producer/consumer): each request is a task of a type drawn from
// [task] mix (query | cpu | write, docs/tasks.md). The client thread, as the producer, inserts
// the task row as `received` through its own TaskStore (one connection per client thread) and
// then sends a unary pathbench.v1.Worker/Task call, through the balancer (via = "balancer",
// default) or straight to the workers (via = "direct"); the worker claims it (`processing`),
// does the work and marks it `done` before replying.
//
// Latency counts from the intended send time as everywhere, so the producer's insert (and any
// wait for the tasks database's write lock) is part of it. A failed insert ends the request at
// once: `unavailable` when the database stayed locked past [task] busy_timeout, `server_error`
// otherwise; no task exists then.
//
// Per-kind results: the request kinds are the mix's types with a weight > 0.
// After the drain, run_finished() audits: it reconciles the tasks table with what was issued (see
// measure/task_audit.h): processing tasks whose lease has ended are reclaimed (back to
// `received`) and every task whose request did not end ok and is still `received` is sent to a
// worker again, for at most the lease + 2 s + 2 deadlines (not after a run cut short by a signal);
// then the rows are counted.
#pragma once
#include <memory>

#include "measure/path_client.h"

namespace pathbench {

class Endpoints;
std::unique_ptr<PathInstance> create_task(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints);

}  // namespace pathbench
