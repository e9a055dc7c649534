#include "runner/database.h"

#include <fmt/format.h>

#include <atomic>
#include <vector>

#include "core/url.h"
#include "db/durability.h"
#include "db/migrations.h"
#include "db/pg_connection.h"
#include "db/seeder.h"
#include "mq/server_process.h"

namespace pathbench {

namespace {
// The server of the RunDatabase alive now (one run per process at a time), for the CPU samples.
std::atomic<mq::BrokerProcess*> g_private_server{nullptr};
}  // namespace

RunDatabase::RunDatabase(std::unique_ptr<mq::BrokerProcess> server) : server_(std::move(server)) {
  if (server_) g_private_server.store(server_.get());
}
RunDatabase::~RunDatabase() {
  mq::BrokerProcess* mine = server_.get();
  g_private_server.compare_exchange_strong(mine, nullptr);
}

Nanos private_database_cpu_ns() {
  mq::BrokerProcess* server = g_private_server.load();
  return server ? server->cpu_ns() : 0;
}

std::unique_ptr<RunDatabase> prepare_database(Scenario& scenario, const RunObserver& observer) {
  DatabaseConfig& db = scenario.database;
  // A named server is the run's shared database: workers on other machines read it and this
  // process's task producers write to it, so it is logged in, migrated and seeded here even
  // when every worker is external. A private one ("auto") only serves workers spawned here.
  const bool shared_server = db.kind == "postgres" && db.url != "auto" && scenario_uses_database(scenario);
  if (db.kind != "postgres" || !(scenario_needs_database(scenario) || shared_server)) {
    ensure_database(scenario, observer);
    return std::make_unique<RunDatabase>(nullptr);
  }
  std::unique_ptr<mq::BrokerProcess> server;
  std::string url;
  if (db.url == "auto") {
    mq::BrokerOptions options;
    options.server_args = postgres_durability_args(db.durability);
    if (observer.note) observer.note("starting a private PostgreSQL server...");
    try {
      server = std::make_unique<mq::BrokerProcess>(mq::BrokerProcess::start("postgres", options));
    } catch (const std::exception& e) {
      const std::string what = e.what();
      // A missing program is the user's to install; anything else failed while starting.
      throw SeedError(what, what.find("was not found") != std::string::npos);
    }
    url = server->url();
  } else {
    if (std::string problem = postgres_url_problem(db.url); !problem.empty())
      throw SeedError(fmt::format("[database] url {}: {}", redact_urls(db.url), problem), true);
    url = postgres_session_url(db.url, db.durability);
  }
  // The login first: wrong credentials or an unreachable server stop the run before any load.
  try {
    PgConnection::open(url);
  } catch (const std::exception& e) {
    throw SeedError(e.what(), true);
  }
  try {
    migrate_up(url);
  } catch (const std::exception& e) {
    throw SeedError(e.what());
  }
  if (!postgres_is_seeded(url)) {
    if (observer.note)
      observer.note(fmt::format("seeding PostgreSQL at {} ({} sales, seed {})...", redact_urls(url), db.sales, scenario.seed));
    SeedReport report = seed_postgres({url, db.sales, scenario.seed, false});
    if (observer.note) observer.note(fmt::format("seeded {} sales in {:.2f} s", report.sales, report.seconds));
  }
  db.path = url;
  return std::make_unique<RunDatabase>(std::move(server));
}

}  // namespace pathbench
