// Builds the sales database deterministically from a seed.
// Called by `pathbench seed` and by `pathbench run` when the scenario's database is missing.
#pragma once
#include <cstdint>
#include <filesystem>
#include <stdexcept>

namespace pathbench {

// Written into the database's `meta` table; readers refuse any other schema_version.
inline constexpr std::int64_t kSchemaVersion = 1;
inline constexpr const char* kDatabaseGenerator = "pathbench";

struct SeedOptions {
  std::filesystem::path db_path;
  std::int64_t sales = 100'000;
  std::uint64_t seed = 42;
  bool force = false;  // overwrite an existing file
};

struct SeedReport {
  std::int64_t regions = 0, stores = 0, categories = 0, products = 0, sales = 0;
  double seconds = 0;
};

// A refusal or failure the user can act on (file exists without force, bad count, I/O).
struct SeedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Same options => byte-for-byte the same rows. Writes into a temporary file and
// renames it into place, so a failed or interrupted seed never leaves a half database.
SeedReport seed_database(const SeedOptions& options);

}  // namespace pathbench
