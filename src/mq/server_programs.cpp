#include "mq/server_programs.h"

#include "mq/server_process_detail.h"

namespace pathbench::mq {

ServerProgram missing_server_program(const std::string& kind, const std::string& search_path) {
  if (kind == "rabbitmq") {
    for (const char* program : {"rabbitmq-server", "rabbitmqctl"})
      if (detail::find_program(program, search_path).empty()) return {program, "rabbitmq-server"};
  } else if (kind == "nats") {
    if (detail::find_program("nats-server", search_path).empty()) return {"nats-server", "nats-server"};
  } else if (kind == "postgres") {
    for (const char* program : {"initdb", "postgres"})
      if (detail::find_postgres_program(program, search_path).empty()) return {program, "postgresql"};
  }
  return {};
}

}  // namespace pathbench::mq
