// The server programs a scenario's run starts itself (`url = "auto"`): a private rabbitmq-server
// or nats-server for each path over that broker whose url is not given ([broker] url applies to
// [broker] kind only, as Topology::broker_endpoint resolves it), and PostgreSQL for
// [database] kind = "postgres" with url = "auto" when a path needs the database. Each one not
// installed here is named with its Debian package (mq/server_programs.h): `pathbench validate`
// warns about it and run_bench.sh installs it.
#pragma once
#include <string>
#include <vector>

#include "scenario/scenario.h"

namespace pathbench {

struct ServerNeed {
  std::string kind;  // "rabbitmq" | "nats" | "postgres" (mq::BrokerProcess::start's kind)
  std::string who;   // what needs it: "path 'rabbit'" or "[database]"
  std::string missing_program;  // "" when installed, else e.g. "nats-server"
  std::string package;          // its Debian package when missing
};

// Every need, in scenario order (a kind once per path). search_path as in mq::BrokerOptions.
std::vector<ServerNeed> servers_needed(const Scenario& scenario, const std::string& search_path = "");

// "path 'rabbit' needs rabbitmq-server, which is not installed here: install the Debian package
// rabbitmq-server (apt-get install rabbitmq-server; ./run_bench.sh does it)". Only for a missing one.
std::string missing_server_warning(const ServerNeed& need);

}  // namespace pathbench
