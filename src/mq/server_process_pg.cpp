// The private PostgreSQL server's setup (mq/server_process.h, kind "postgres").
#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "mq/server_process_detail.h"

namespace pathbench::mq::detail {

namespace fs = std::filesystem;

// Debian installs the server programs under /usr/lib/postgresql/<major>/bin, off $PATH: look
// there (highest major first) after $PATH. An explicit search_path is the only place looked in.
std::string find_postgres_program(const std::string& name, const std::string& search_path) {
  if (!search_path.empty()) return find_program(name, search_path);
  if (std::string on_path = find_program(name, ""); !on_path.empty()) return on_path;
  std::vector<fs::path> versions;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) versions.push_back(entry.path());
  std::sort(versions.begin(), versions.end(), [](const fs::path& a, const fs::path& b) {
    // Numeric majors: "15" after "9.6".
    return std::stod("0" + a.filename().string()) > std::stod("0" + b.filename().string());
  });
  for (auto& v : versions) {
    fs::path candidate = v / "bin" / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

std::vector<std::string> prepare_postgres(const fs::path& folder, const BrokerOptions& options,
                                          std::vector<std::string>& env, int& port, std::string& url) {
  const std::string looked_in = options.search_path.empty() ? "$PATH:/usr/lib/postgresql/*/bin" : options.search_path;
  const std::string initdb = find_postgres_program("initdb", options.search_path);
  if (initdb.empty()) throw missing_program("initdb", "postgresql", looked_in);
  const std::string server = find_postgres_program("postgres", options.search_path);
  if (server.empty()) throw missing_program("postgres", "postgresql", looked_in);

  // PostgreSQL refuses to run as root: as root, initdb and the server run as Debian's
  // `postgres` user, which then owns the folder (the supervisor, still root, removes it).
  std::vector<std::string> as_user;
  if (::getuid() == 0) {
    passwd* pw = ::getpwnam("postgres");
    if (!pw) throw std::runtime_error("cannot start a private PostgreSQL server as root: there is no `postgres` user "
                                      "(the Debian package postgresql creates it)");
    std::string setpriv = find_program("setpriv", "");
    if (setpriv.empty()) setpriv = "/usr/bin/setpriv";
    as_user = {setpriv, "--reuid=postgres", "--regid=postgres", "--init-groups", "--"};
    chown_tree_to(folder, pw->pw_uid, pw->pw_gid);
    set_env(env, "HOME", folder.string());
  }
  // Nothing from the environment chooses another cluster or user for the programs.
  for (const char* name : {"PGDATA", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGOPTIONS"})
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(std::string(name) + "="); });
  set_env(env, "LC_ALL", "C");

  // initdb and the server run as one supervised command (a shell that runs initdb, then execs
  // the server in its place), so pathbench going away during initdb leaves nothing behind either:
  // the supervisor (mq/supervisor.h) ends the tree and removes the folder, whatever the phase.
  // --no-sync: the cluster lives as long as the run; the server's fsync setting governs what the
  // benchmark measures, not initdb's own flush of a fresh cluster.
  const fs::path data = folder / "data";
  port = free_loopback_port();
  std::vector<std::string> args = as_user;
  for (std::string a : {std::string("/bin/sh"), std::string("-c"),
                        std::string("initdb=\"$1\"; data=\"$2\"; shift 2; "
                                    "\"$initdb\" -D \"$data\" -U postgres -A trust -E UTF8 --locale=C --no-sync && exec \"$@\""),
                        std::string("pathbench-postgres"), initdb, data.string(), server, std::string("-D"), data.string(),
                        std::string("-h"), std::string("127.0.0.1"), std::string("-p"), std::to_string(port),
                        std::string("-k"), folder.string()})
    args.push_back(std::move(a));
  args.insert(args.end(), options.server_args.begin(), options.server_args.end());
  url = fmt::format("postgresql://postgres@127.0.0.1:{}/postgres", port);
  return args;
}

}  // namespace pathbench::mq::detail
