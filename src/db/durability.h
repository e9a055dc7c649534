// [database] durability (docs/database.md): what a committed write survives, as each backend
// spells it. Only writers care (the task path's stores); the read-only query executors do not.
//   full   — a commit is on disk before it is acknowledged: it survives a power loss.
//   normal — a commit survives pathbench or the database server crashing, not an OS crash or power
//            loss (SQLite WAL synchronous=NORMAL; PostgreSQL synchronous_commit=off, whose
//            window is ~3 x wal_writer_delay, 600 ms by default). Never corrupts the database.
//   off    — nothing is flushed: an OS crash can lose or (PostgreSQL fsync=off) corrupt data.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace pathbench {

// The statements a SQLite writing connection runs: journal_mode=WAL and synchronous=FULL /
// NORMAL / OFF. An unknown name reads as "full".
const char* sqlite_durability_pragmas(std::string_view durability) noexcept;

// The server-wide settings of a private PostgreSQL server ("-c", "fsync=on", ...):
// full: fsync=on, synchronous_commit=on; normal: fsync=on, synchronous_commit=off;
// off: fsync=off, synchronous_commit=off, full_page_writes=off. Also max_connections=400.
std::vector<std::string> postgres_durability_args(const std::string& durability);

// `url` with the session setting of a durability for a server pathbench did not start
// (synchronous_commit=off as libpq's "options" parameter for normal and off; the server's
// fsync is its own): unchanged for "full".
std::string postgres_session_url(const std::string& url, const std::string& durability);

}  // namespace pathbench
