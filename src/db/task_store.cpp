#include "db/task_store.h"

#include <fmt/format.h>

#include "db/task_store_open.h"
#include "core/url.h"
#include "db/pg_connection.h"

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

std::string TaskStoreLocation::display() const {
  return backend == "postgres" ? redact_urls(postgres_url) : sqlite_file.string();
}

TaskStoreLocation task_store_location(const std::filesystem::path& database, int busy_timeout_ms,
                                      const std::string& durability) {
  TaskStoreLocation where;
  where.busy_timeout_ms = busy_timeout_ms;
  where.durability = durability;
  if (is_postgres_url(database.native())) {
    where.backend = "postgres";
    where.postgres_url = database.native();
  } else {
    where.sqlite_file = tasks_file_for(database);
  }
  return where;
}

std::unique_ptr<TaskStore> open_task_store(const TaskStoreLocation& where) {
  if (where.backend == "sqlite") return open_sqlite_task_store(where.sqlite_file, where.busy_timeout_ms, where.durability);
  if (where.backend == "postgres") return open_postgres_task_store(where.postgres_url);
  throw TaskStoreError(fmt::format("tasks database backend '{}' is not supported by this build (only sqlite)", where.backend));
}

}  // namespace pathbench
