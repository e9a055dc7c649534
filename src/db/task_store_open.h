// Where the task path's TaskStore comes from (db/task_store.h is the store's contract, shared by
// both database backends): the one place that picks the backend, the SQLite file's name, and the
// error a busy database throws.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "db/task_store.h"

namespace pathbench {

// The database was locked by another writer for longer than the busy timeout (SQLite's
// SQLITE_BUSY / SQLITE_LOCKED): the caller reports it as "unavailable", not as a server error.
struct TaskStoreBusy : TaskStoreError {
  using TaskStoreError::TaskStoreError;
};

// The SQLite tasks file that goes with a sales database: "data/sales.db" -> "data/sales.tasks.db".
// A separate file, because every QueryExecutor holds a shared lock on the sales file for its
// lifetime (db/executor.h) and nothing may write it meanwhile; rows are keyed by run id, so one
// file serves every run against that database.
std::filesystem::path tasks_file_for(const std::filesystem::path& sales_db);

struct TaskStoreLocation {
  std::string backend = "sqlite";      // "sqlite" or "postgres"
  std::filesystem::path sqlite_file;   // backend sqlite
  int busy_timeout_ms = 1000;          // sqlite: how long a write waits for the lock
  std::string postgres_url;            // backend postgres: the server's postgresql:// URL
  // sqlite: [database] durability, full | normal | off -> synchronous FULL / NORMAL / OFF (WAL
  // either way; db/durability.h). PostgreSQL's is in its server settings or its URL already.
  std::string durability = "full";
  // For results and messages: the file, or the URL with its password redacted.
  std::string display() const;
};

// Where the tasks of a run against `database` live: a postgresql:// URL (the [database] path once
// the runner has made a PostgreSQL server ready) keeps them in that server; a SQLite file keeps
// them in tasks_file_for(database), with `durability`.
TaskStoreLocation task_store_location(const std::filesystem::path& database, int busy_timeout_ms,
                                      const std::string& durability = "full");

// Opens a store (one per thread). Throws TaskStoreError naming the file, or naming the backend
// when it is not one this build can open.
std::unique_ptr<TaskStore> open_task_store(const TaskStoreLocation& where);

}  // namespace pathbench
