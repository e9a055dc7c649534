// Skipping a doctest case whose outside program is not installed. doctest has no skip: the case
// prints "SKIP: <reason>" through MESSAGE and returns, and ctest marks an entry whose output has
// "MESSAGE: SKIP: " as skipped (SKIP_REGULAR_EXPRESSION, set by tests/discover_tiers.cmake).
//
//   TEST_CASE("...") {
//     PATHBENCH_SKIP_UNLESS_BROKER_SERVER("rabbitmq");
//     ...
#pragma once
// The macro needs <doctest/doctest.h>, which a test file includes first; the functions do not
// (bench/figures.cpp uses them).
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace pathbench::testing {

// True when `program` is an executable file in one of $PATH's folders (as mq::BrokerProcess
// looks for it).
inline bool program_on_path(std::string_view program) {
  const char* env = std::getenv("PATH");
  std::string_view path = env ? env : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    const std::size_t colon = path.find(':');
    const std::string_view dir = path.substr(0, colon);
    std::string candidate = dir.empty() ? std::string(".") : std::string(dir);
    candidate += '/';
    candidate += program;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) return false;
    path.remove_prefix(colon + 1);
  }
}

// The reason a real broker of `kind` ("rabbitmq" | "nats") cannot be started here, or "".
inline std::string missing_broker_server(std::string_view kind) {
  const std::string program = kind == "rabbitmq" ? "rabbitmq-server" : "nats-server";
  if (program_on_path(program)) return "";
  return program + " is not installed (Debian package " + program + "; scripts/install-deps.sh --test)";
}

}  // namespace pathbench::testing

// Ends the enclosing test case as skipped when the `kind` broker's server program is missing.
// Skips the case when `reason` (a std::string) is not empty: PATHBENCH_SKIP_WHEN(pki.why);
#define PATHBENCH_SKIP_WHEN(reason)                \
  do {                                             \
    if (const std::string why_ = (reason); !why_.empty()) { \
      MESSAGE("SKIP: " << why_);                   \
      return;                                      \
    }                                              \
  } while (false)

#define PATHBENCH_SKIP_UNLESS_BROKER_SERVER(kind)                                               \
  do {                                                                                          \
    const std::string pathbench_skip_reason_ = ::pathbench::testing::missing_broker_server(kind); \
    if (!pathbench_skip_reason_.empty()) {                                                      \
      MESSAGE("SKIP: ", pathbench_skip_reason_);                                                \
      return;                                                                                   \
    }                                                                                           \
  } while (false)
