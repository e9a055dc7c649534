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

}  // namespace pathbench::mq
