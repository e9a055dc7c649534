#include "runner/server_needs.h"

#include <fmt/format.h>

#include "mq/server_programs.h"
#include "runner/runner.h"

namespace pathbench {

std::vector<ServerNeed> servers_needed(const Scenario& scenario, const std::string& search_path) {
  std::vector<ServerNeed> needs;
  auto add = [&](const std::string& kind, std::string who) {
    ServerNeed n{kind, std::move(who), "", ""};
    const mq::ServerProgram missing = mq::missing_server_program(kind, search_path);
    n.missing_program = missing.program;
    n.package = missing.package;
    needs.push_back(std::move(n));
  };
  const Scenario& s = scenario;
  if (s.database.kind == "postgres" && s.database.url == "auto" && scenario_needs_database(s)) add("postgres", "[database]");
  for (const PathSpec& p : s.paths) {
    const std::string kind = path_broker_kind(s, p);
    if ((kind == "rabbitmq" || kind == "nats") && broker_url_for(s.broker, kind) == "auto")
      add(kind, fmt::format("path '{}'", p.label));
  }
  return needs;
}

std::string missing_server_warning(const ServerNeed& need) {
  if (need.missing_program.empty()) return "";
  const char* name = need.kind == "postgres" ? "PostgreSQL" : need.kind == "rabbitmq" ? "RabbitMQ" : "NATS";
  return fmt::format("{} needs {} (url = \"auto\": a private {} server for the run), which is not installed here: "
                     "install the Debian package {} (apt-get install {}; ./run_bench.sh does it)",
                     need.who, need.missing_program, name, need.package, need.package);
}

}  // namespace pathbench
