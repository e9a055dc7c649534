// The tasks table of the task path, on either database backend: the producer's insert, the
// worker's claim / finish / write work, the lease reclaim and the audit. One TaskStore per
// thread (a connection each); not thread-safe. Errors throw TaskStoreError with a reason that
// never contains a password.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pathbench {

enum class TaskState : std::uint8_t { received, processing, done, failed };
const char* task_state_name(TaskState s) noexcept;  // "received", "processing", "done", "failed"

struct TaskCounts {
  std::int64_t received = 0, processing = 0, done = 0, failed = 0;
  std::int64_t total() const noexcept { return received + processing + done + failed; }
};

struct TaskStoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class TaskStore {
 public:
  virtual ~TaskStore() = default;
  // Producer: a new row in state `received`.
  virtual void insert_received(std::int64_t task_id, std::string_view run_id, std::string_view type,
                               std::string_view payload, std::int64_t created_unix_us) = 0;
  // Worker: `received` (or `processing` whose lease ended before now) -> `processing`, owned by
  // worker_id until lease_until_unix_us, attempts + 1. False: no such task, or not claimable.
  virtual bool claim(std::int64_t task_id, std::string_view run_id, std::string_view worker_id,
                     std::int64_t now_unix_us, std::int64_t lease_until_unix_us) = 0;
  // Worker: `processing` -> final_state (done or failed), finished time set.
  virtual void finish(std::int64_t task_id, std::string_view run_id, TaskState final_state,
                      std::int64_t finished_unix_us) = 0;
  // The `write` type's work: `rows` inserts into task_writes plus one counter update, one transaction.
  virtual void write_batch(std::int64_t task_id, std::string_view run_id, int rows) = 0;
  // run_id's tasks in `processing` whose lease ended before now -> `received`; how many.
  virtual std::int64_t reclaim_expired(std::string_view run_id, std::int64_t now_unix_us) = 0;
  // Rows of run_id by state.
  virtual TaskCounts audit(std::string_view run_id) = 0;
  // The durability setting this connection runs with, read back from the database:
  // SQLite "journal_mode=wal synchronous=2" (PRAGMA values: 0 OFF, 1 NORMAL, 2 FULL);
  // PostgreSQL "fsync=on synchronous_commit=off" (SHOW). For tests and messages.
  virtual std::string durability_in_effect() = 0;
};

// SQLite (WAL, busy timeout busy_timeout_ms, synchronous from `durability`: full | normal | off,
// db/durability.h), creating the tables when absent.
std::unique_ptr<TaskStore> open_sqlite_task_store(const std::filesystem::path& file, int busy_timeout_ms,
                                                  std::string_view durability = "full");
// PostgreSQL at `conninfo` (a postgresql:// URL), creating the tables when absent.
std::unique_ptr<TaskStore> open_postgres_task_store(const std::string& conninfo);

}  // namespace pathbench
