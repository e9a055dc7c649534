// Whether the server programs behind `url = "auto"` are installed, without starting anything:
// the same search BrokerProcess::start (mq/server_process.h) makes, for `pathbench validate`'s
// warnings and run_bench.sh (which installs the named Debian package).
#pragma once
#include <string>

namespace pathbench::mq {

struct ServerProgram {
  std::string program;  // the first missing program, e.g. "rabbitmq-server", "initdb"
  std::string package;  // its Debian package: rabbitmq-server | nats-server | postgresql
};

// kind: "rabbitmq" | "nats" | "postgres". The first program BrokerProcess::start(kind) would
// miss, or an empty program when all are there. search_path as in BrokerOptions ("" = $PATH,
// and /usr/lib/postgresql/*/bin for postgres). Any other kind: nothing missing.
ServerProgram missing_server_program(const std::string& kind, const std::string& search_path = "");

// The installed server program's version for context.json, "" when it cannot be told: nats-server
// and postgres answer `--version` (first line); rabbitmq-server has no such flag without a
// running node, so its Debian package's version (dpkg-query). Bounded: 5 s per program.
std::string server_program_version(const std::string& kind, const std::string& search_path = "");

}  // namespace pathbench::mq
