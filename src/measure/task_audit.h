// The task path's audit (after the drain): the tasks table of the path's run counted by state and
// reconciled with what the producers issued. Filled by a PathInstance that keeps server-side
// state (PathInstance::run_finished of the task path); written as tasks.csv (report/tasks_csv.cpp).
#pragma once
#include <cstdint>
#include <string>

namespace pathbench {

struct TaskAudit {
  std::string run_id;                 // the rows' run_id in the tasks table
  std::string store;                  // where the table is (a file name; never a URL with a password)
  std::int64_t issued = 0;            // rows the producers inserted (`received`)
  std::int64_t insert_failed = 0;     // inserts that failed (the request counted as an error, no task)
  std::int64_t insert_busy = 0;       // of which: the database was locked past the busy timeout
  std::int64_t requests_ok = 0;       // requests of those tasks that ended ok (load generator's count)
  std::int64_t received = 0, processing = 0, done = 0, failed = 0;  // rows by state, after the reclaim
  std::int64_t reclaimed = 0;         // processing past their lease, moved back to received
  std::int64_t redelivered = 0;       // received tasks sent to a worker again by the audit
  // Done tasks whose request did not end ok (timed out, or failed on the way back): the task
  // finished anyway. done - requests_ok.
  std::int64_t done_after_timeout = 0;
  // Issued tasks missing from the table, plus ok requests whose task is not done: must be 0.
  std::int64_t lost = 0;
  std::string error;                  // non-empty: the audit could not complete (counts partial)
};

}  // namespace pathbench
