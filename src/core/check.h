// Broken invariants (programming errors, not run-time conditions) stop the program at once,
// saying where: the second of STYLE's three tiers of errors. Used everywhere in src/.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <source_location>

namespace pathbench {

inline void check(bool ok, const char* what, std::source_location where = std::source_location::current()) {
  if (ok) [[likely]]
    return;
  std::fprintf(stderr, "%s:%u: check failed: %s\n", where.file_name(), static_cast<unsigned>(where.line()), what);
  std::abort();
}

}  // namespace pathbench
