#include "db/task_store.h"

#include <fmt/format.h>

#include "db/task_store_open.h"

namespace pathbench {

const char* task_state_name(TaskState s) noexcept {
  switch (s) {
    case TaskState::received: return "received";
    case TaskState::processing: return "processing";
    case TaskState::done: return "done";
    case TaskState::failed: return "failed";
  }
  return "?";
}

std::filesystem::path tasks_file_for(const std::filesystem::path& sales_db) {
  std::filesystem::path file = sales_db;
  file.replace_extension();
  file += ".tasks.db";
  return file;
}

std::unique_ptr<TaskStore> open_task_store(const TaskStoreLocation& where) {
  // The PostgreSQL branch (open_postgres_task_store) joins here with the [database] kind key.
  if (where.backend == "sqlite") return open_sqlite_task_store(where.sqlite_file, where.busy_timeout_ms);
  throw TaskStoreError(fmt::format("tasks database backend '{}' is not supported by this build (only sqlite)", where.backend));
}

}  // namespace pathbench
