// `pathbench run --heap-profile`: a heap profile per path through a re-execution with libtcmalloc
// preloaded for that run only (cli/profile.h); skipped when libtcmalloc is not installed.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include "build_info.h"
#include "test_helpers.h"

using namespace pathbench::testing;

TEST_CASE("run --heap-profile: a heap profile of each path, the run otherwise as usual") {
  if (access("/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4", R_OK) != 0 && access("/usr/lib/libtcmalloc.so.4", R_OK) != 0) {
    MESSAGE("SKIP: libtcmalloc.so.4 is not installed (Debian package libgoogle-perftools4)");
    return;
  }
  TempDir dir;
  write_file(dir / "heap.toml", fmt::format(R"(
name = "heap"
[load]
mode = "open"
rate_per_s = 100
duration = "2s"
warmup = "1s"
[database]
path = "{}"
sales = 2000
[query]
mix = {{ point = 1 }}
[[path]]
kind = "grpc_unary"
via = "direct"
)",
                                            (dir / "sales.db").string()));
  const CommandResult r =
      run_pathbench(fmt::format("run '{}' --heap-profile --no-charts --out '{}'", (dir / "heap.toml").string(), (dir / "out").string()));
  CAPTURE(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("accounting holds") != std::string::npos);
  if (pathbench::build::sanitized) {
    // tcmalloc cannot go in front of a sanitizer's runtime: said, and the run goes on without it.
    CHECK(r.output.find("a sanitizer build cannot take tcmalloc") != std::string::npos);
    return;
  }
  CHECK(r.output.find("heap profile: ") != std::string::npos);
  bool dumped = false;
  for (auto& entry : std::filesystem::directory_iterator(dir / "out"))
    if (entry.path().filename().string().rfind("heap_grpc_unary_direct.", 0) == 0 && entry.path().extension() == ".heap")
      dumped = std::filesystem::file_size(entry.path()) > 0;
  CHECK(dumped);
  if (access("/usr/bin/google-pprof", X_OK) == 0) {
    const std::string top = read_file(dir / "out" / "heap_grpc_unary_direct.top.txt");
    CHECK(top.find("Total:") != std::string::npos);
  }
}
