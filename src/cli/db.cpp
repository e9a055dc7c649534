// `pathbench db migrate up|down|status`: the numbered schema migrations (db/migrations.h) on a
// SQLite file or a PostgreSQL server.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <ctime>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/url.h"
#include "db/migrations.h"

namespace pathbench::cli {

namespace po = boost::program_options;

namespace {

std::string utc_of(std::int64_t unix_s) {
  const std::time_t t = unix_s;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

int db_main(std::span<const std::string> args) {
  po::options_description visible(
      "pathbench db migrate up|down|status [options] — the numbered schema migrations\n"
      "  up      apply every migration not yet applied (or up to --to)\n"
      "  down    revert the newest applied migration (or --steps of them)\n"
      "  status  list the migrations and which are applied");
  std::string db = "data/sales.db";
  int to = 0, steps = 1;
  visible.add_options()("help,h", "show this help")(
      "db", po::value(&db)->default_value(db), "a SQLite file or a postgresql://user:password@host:port/database URL")(
      "to", po::value(&to)->default_value(to), "up: stop at this version (0 = the latest)")(
      "steps", po::value(&steps)->default_value(steps), "down: how many migrations to revert");
  po::options_description all;
  all.add(visible).add_options()("words", po::value<std::vector<std::string>>(), "");
  po::positional_options_description positional;
  positional.add("words", -1);
  po::variables_map vm;
  if (int code = parse_options(args, all, positional, vm, visible); code >= 0) return code;
  const auto words = vm.count("words") ? vm["words"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (words.size() != 2 || words[0] != "migrate" || (words[1] != "up" && words[1] != "down" && words[1] != "status")) {
    fmt::print(stderr, "pathbench db: expected `migrate up`, `migrate down` or `migrate status` (see --help)\n");
    return kExitBadInput;
  }
  const std::string shown = redact_urls(db);
  try {
    if (words[1] == "status") {
      for (const MigrationStatus& s : migration_status(db)) {
        fmt::print("{:04} {:<8} {}\n", s.version, s.name,
                   !s.applied                ? "pending"
                   : s.applied_unix_s == 0   ? "applied (seeded before migrations were recorded)"
                                             : fmt::format("applied {}", utc_of(s.applied_unix_s)));
      }
    } else if (words[1] == "up") {
      const int n = migrate_up(db, to);
      fmt::print("{}: applied {} migration{}\n", shown, n, n == 1 ? "" : "s");
    } else {
      const int n = migrate_down(db, steps);
      fmt::print("{}: reverted {} migration{}\n", shown, n, n == 1 ? "" : "s");
    }
    return kExitOk;
  } catch (const MigrationError& e) {
    fmt::print(stderr, "pathbench db: {}\n", redact_urls(e.what()));
    // Cannot connect / log in / bad target: the user's input; a failed statement: a failure.
    const std::string what = e.what();
    const bool bad_input = what.find("cannot connect") != std::string::npos || what.find("cannot open") != std::string::npos ||
                           what.find("no migration") != std::string::npos || what.find("steps must") != std::string::npos ||
                           what.find("URL") != std::string::npos || what.find("no database") != std::string::npos;
    return bad_input ? kExitBadInput : kExitRunFailed;
  }
}

}  // namespace pathbench::cli
