#include <fmt/format.h>

#include <boost/program_options.hpp>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/url.h"
#include "db/pg_connection.h"
#include "db/seeder.h"

namespace pathbench::cli {

namespace po = boost::program_options;

int seed_main(std::span<const std::string> args) {
  po::options_description visible(
      "pathbench seed [options] — build the sales database; the same seed gives the same rows");
  std::string db = "data/sales.db";
  std::int64_t sales = 100'000;
  std::uint64_t seed = 42;
  visible.add_options()("help,h", "show this help")("db", po::value(&db)->default_value(db), "database file to create, or a postgresql:// URL of a server to fill (COPY)")(
      "sales", po::value(&sales)->default_value(sales), "number of sales rows (1 .. 100,000,000)")(
      "seed", po::value(&seed)->default_value(seed), "seed for every generated value")(
      "force", po::bool_switch(), "overwrite an existing file (PostgreSQL: replace a seeded server's data)");
  po::positional_options_description none;
  po::variables_map vm;
  if (int code = parse_options(args, visible, none, vm, visible); code >= 0) return code;
  try {
    const bool postgres = is_postgres_url(db);
    SeedReport r = postgres ? seed_postgres({db, sales, seed, vm["force"].as<bool>()})
                            : seed_database({db, sales, seed, vm["force"].as<bool>()});
    fmt::print("{}: {} regions, {} stores, {} categories, {} products, {} sales in {:.2f} s (seed {})\n", redact_urls(db),
               r.regions, r.stores, r.categories, r.products, r.sales, r.seconds, seed);
    return kExitOk;
  } catch (const SeedError& e) {
    fmt::print(stderr, "pathbench seed: {}\n", redact_urls(e.what()));
    return e.bad_input ? kExitBadInput : kExitRunFailed;  // a failed write is not bad input
  }
}

}  // namespace pathbench::cli
