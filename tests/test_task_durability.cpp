// [database] durability on the task path's SQLite store: the synchronous level each setting
// leaves in effect on a writing connection (read back with PRAGMA through the store itself, since
// synchronous is per connection), and `serve worker`'s task flags refusing bad values (exit 2).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include "db/task_store_open.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::testing;

TEST_CASE("task store: SQLite synchronous follows [database] durability (full 2, normal 1, off 0), always WAL") {
  TempDir dir;
  for (auto [durability, synchronous] : {std::pair{"full", 2}, std::pair{"normal", 1}, std::pair{"off", 0}}) {
    CAPTURE(durability);
    // The way the path and the worker's task threads open it: next to the sales database.
    const TaskStoreLocation where = task_store_location(dir / fmt::format("{}.db", durability), 100, durability);
    CHECK(where.backend == "sqlite");
    CHECK(where.durability == durability);
    auto store = open_task_store(where);
    CHECK(store->durability_in_effect() == fmt::format("journal_mode=wal synchronous={}", synchronous));
    // Two connections on one file, each with its own setting.
    auto other = open_task_store({"sqlite", where.sqlite_file, 100, "", durability == std::string("off") ? "full" : "off"});
    CHECK(other->durability_in_effect() ==
          fmt::format("journal_mode=wal synchronous={}", durability == std::string("off") ? 2 : 0));
    CHECK(store->durability_in_effect() == fmt::format("journal_mode=wal synchronous={}", synchronous));
  }
  // The default, as the scenario's: full.
  CHECK(task_store_location(dir / "default.db", 100).durability == "full");
  CHECK(open_task_store(task_store_location(dir / "default.db", 100))->durability_in_effect() ==
        "journal_mode=wal synchronous=2");
}

TEST_CASE("serve worker: --durability and --task-busy-timeout are checked before anything starts") {
  const CommandResult help = run_pathbench("serve --help");
  CHECK(help.output.find("--durability") != std::string::npos);
  CHECK(help.output.find("--task-busy-timeout") != std::string::npos);
  const CommandResult durability = run_pathbench("serve worker --listen 127.0.0.1:0 --ws-listen off --durability sometimes");
  CHECK(durability.exit_code == 2);
  CHECK(durability.output.find("--durability: expected full, normal or off, found \"sometimes\"") != std::string::npos);
  const CommandResult timeout = run_pathbench("serve worker --listen 127.0.0.1:0 --ws-listen off --task-busy-timeout soon");
  CHECK(timeout.exit_code == 2);
  CHECK(timeout.output.find("--task-busy-timeout") != std::string::npos);
}
