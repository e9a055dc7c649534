// The run's database, made ready before any load (docs/database.md).
//   sqlite:   the file at [database] path, seeded when missing (ensure_database).
//   postgres: url = "auto" starts a private PostgreSQL server for the run (mq::BrokerProcess kind
//             "postgres": initdb in a temporary folder, a free loopback port, ended with the run on
//             every exit path, SIGKILL of pathbench included) with fsync / synchronous_commit from
//             [database] durability; a postgresql:// URL names a running server. Either way the
//             login is checked, the migrations are applied (db/migrations.h), a server without the
//             catalog is seeded (COPY) with [database] sales and the scenario's seed, and
//             scenario.database.path becomes the URL every executor, worker and the load
//             generator then open.
// Called by `pathbench run` (runner's thread) before the first path; the returned object keeps
// the private server up until it is destroyed (after the run).
#pragma once
#include <memory>
#include <string>

#include "core/clock.h"
#include "db/durability.h"  // postgres_durability_args, postgres_session_url
#include "runner/runner.h"
#include "scenario/scenario.h"

namespace pathbench {

namespace mq {
class BrokerProcess;
}

class RunDatabase {
 public:
  explicit RunDatabase(std::unique_ptr<mq::BrokerProcess> server);
  ~RunDatabase();  // stops the private server (bounded) and removes its folder
  RunDatabase(const RunDatabase&) = delete;
  RunDatabase& operator=(const RunDatabase&) = delete;
  // The private server, or null (sqlite, or an external URL). For tests that stop it mid-run.
  mq::BrokerProcess* server() const noexcept { return server_.get(); }

 private:
  std::unique_ptr<mq::BrokerProcess> server_;
};

// CPU time the current run's private PostgreSQL server has used so far (its whole process
// tree), 0 without one: the runner counts it as worker time. Thread-safe.
Nanos private_database_cpu_ns();

// Throws SeedError: bad_input (exit 2, nothing has run) for a missing postgres program (naming
// the Debian package postgresql), a bad URL, a refused connection or login; otherwise a failure
// while starting, migrating or seeding. Messages never contain a password.
std::unique_ptr<RunDatabase> prepare_database(Scenario& scenario, const RunObserver& observer);

}  // namespace pathbench
