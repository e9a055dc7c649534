// The servers a scenario starts itself (runner/server_needs.h) and `pathbench validate`'s warning
// when one is not installed: exit 0, the program and its Debian package named (run_bench.sh
// installs what the warning names).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "paths/registry.h"
#include "mq/server_programs.h"
#include "runner/server_needs.h"
#include "scenario/loader.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::testing;

namespace {

const std::string kScenario = R"(
name = "needs"
[database]
kind = "postgres"
[broker]
kind = "rabbitmq"
url = "amqp://guest:guest@127.0.0.1:5672"
[[path]]
kind = "messaging"
via = "rabbitmq"
[[path]]
kind = "messaging"
via = "nats"
label = "js"
durable = true
[[path]]
kind = "queue"
via = "nats"
[[path]]
kind = "grpc_unary"
)";

// Sets PATH for this process (and the commands it starts) until destroyed.
class PathVariable {
 public:
  explicit PathVariable(const std::string& value) {
    if (const char* old = std::getenv("PATH")) old_ = old;
    ::setenv("PATH", value.c_str(), 1);
  }
  ~PathVariable() { ::setenv("PATH", old_.c_str(), 1); }

 private:
  std::string old_ = "/usr/local/bin:/usr/bin:/bin";
};

}  // namespace

TEST_CASE("server needs: url = \"auto\" brokers and PostgreSQL, each missing one named with its Debian package") {
  TempDir dir;
  std::filesystem::create_directories(dir / "empty");
  Scenario s = load_scenario_text(kScenario, "needs.toml");
  // [broker] url names the RabbitMQ server: nothing to start for it; NATS twice (two paths);
  // PostgreSQL for the gRPC path's queries.
  auto needs = servers_needed(s, (dir / "empty").string());
  REQUIRE(needs.size() == 3);
  CHECK(needs[0].kind == "postgres");
  CHECK(needs[0].who == "[database]");
  CHECK(needs[0].missing_program == "initdb");
  CHECK(needs[0].package == "postgresql");
  CHECK(needs[1].kind == "nats");
  CHECK(needs[1].who == "path 'js'");
  CHECK(needs[1].missing_program == "nats-server");
  CHECK(needs[1].package == "nats-server");
  CHECK(needs[2].who == "path 'queue_nats'");
  const std::string warning = missing_server_warning(needs[1]);
  CHECK(warning.find("path 'js' needs nats-server") != std::string::npos);
  CHECK(warning.find("install the Debian package nats-server") != std::string::npos);

  // Programs present: nothing missing, no warning.
  for (const char* program : {"nats-server", "initdb", "postgres"}) {
    write_file(dir / program, "#!/bin/sh\n");
    std::filesystem::permissions(dir / program, std::filesystem::perms::owner_all);
  }
  for (auto& need : servers_needed(s, dir.path().string())) {
    CAPTURE(need.who);
    CHECK(need.missing_program == "");
    CHECK(missing_server_warning(need) == "");
  }
  // The same broker through [broker] url = "auto" (the default): started, so needed.
  Scenario own = load_scenario_text("[[path]]\nkind = \"messaging\"\nvia = \"rabbitmq\"\n", "own.toml");
  auto rabbit = servers_needed(own, (dir / "empty").string());
  REQUIRE(rabbit.size() == 1);
  CHECK(rabbit[0].missing_program == "rabbitmq-server");
  CHECK(rabbit[0].package == "rabbitmq-server");
  CHECK(servers_needed(load_scenario_text("[[path]]\nkind = \"messaging\"\n", "e.toml"), (dir / "empty").string()).empty());
}

TEST_CASE("cli: validate warns (exit 0) when a url = \"auto\" path's server program is not installed") {
  TempDir dir;
  std::filesystem::create_directories(dir / "empty");
  write_file(dir / "s.toml", R"(
name = "brokers"
[[path]]
kind = "messaging"
via = "rabbitmq"
label = "rabbit"
[[path]]
kind = "queue"
via = "nats"
label = "natsq"
)");
  CommandResult r;
  {
    PathVariable path((dir / "empty").string());
    r = run_pathbench("validate '" + (dir / "s.toml").string() + "'");
  }
  CAPTURE(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("s.toml: ok (2 paths: rabbit, natsq)") != std::string::npos);
  CHECK(r.output.find("WARNING: path 'rabbit' needs rabbitmq-server") != std::string::npos);
  CHECK(r.output.find("install the Debian package rabbitmq-server") != std::string::npos);
  CHECK(r.output.find("WARNING: path 'natsq' needs nats-server") != std::string::npos);
  CHECK(r.output.find("install the Debian package nats-server") != std::string::npos);
  // With the PATH of this machine (whatever is installed): still exit 0, and a warning only for
  // what is missing.
  auto normal = run_pathbench("validate '" + (dir / "s.toml").string() + "'");
  CHECK(normal.exit_code == 0);
  const bool has_rabbit = std::system("command -v rabbitmq-server >/dev/null 2>&1 && command -v rabbitmqctl >/dev/null 2>&1") == 0;
  CHECK((normal.output.find("needs rabbitmq-server") != std::string::npos) == !has_rabbit);
}

TEST_CASE("server needs: the installed server programs' versions go into context.json") {
  for (const char* kind : {"nats", "postgres", "rabbitmq"}) {
    CAPTURE(kind);
    const std::string version = mq::server_program_version(kind);
    if (!mq::missing_server_program(kind).program.empty()) {
      CHECK(version.empty());  // nothing installed: nothing made up
      continue;
    }
    const std::string expected = std::string(kind) == "nats" ? "nats-server" : std::string(kind) == "postgres" ? "PostgreSQL" : "rabbitmq-server";
    CHECK(version.find(expected) != std::string::npos);
  }
  // With nothing on the search path, nothing is found and nothing is run.
  CHECK(mq::server_program_version("nats", "/nonexistent").empty());
  CHECK(mq::server_program_version("echo").empty());
}
