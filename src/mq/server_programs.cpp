#include "mq/server_programs.h"

#include <cstdio>

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

namespace {

// The first line `command` prints (stderr dropped), trimmed; "" when it prints nothing or fails.
std::string first_line_of(const std::string& command) {
  std::FILE* pipe = ::popen(("timeout 5 " + command + " 2>/dev/null").c_str(), "r");
  if (!pipe) return "";
  char buffer[256] = {};
  std::string line = std::fgets(buffer, sizeof buffer, pipe) ? buffer : "";
  while (std::fgets(buffer, sizeof buffer, pipe)) {
  }  // drain, so the program is not killed by a closed pipe before pclose reaps it
  const int status = ::pclose(pipe);
  if (status != 0) return "";
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

std::string quoted(const std::string& path) { return "'" + path + "'"; }

}  // namespace

std::string server_program_version(const std::string& kind, const std::string& search_path) {
  if (!missing_server_program(kind, search_path).program.empty()) return "";
  if (kind == "nats") return first_line_of(quoted(detail::find_program("nats-server", search_path)) + " --version");
  if (kind == "postgres") return first_line_of(quoted(detail::find_postgres_program("postgres", search_path)) + " --version");
  if (kind == "rabbitmq") {
    const std::string v = first_line_of("dpkg-query -W -f='${Version}' rabbitmq-server");
    return v.empty() ? "" : "rabbitmq-server " + v + " (Debian package)";
  }
  return "";
}

}  // namespace pathbench::mq
