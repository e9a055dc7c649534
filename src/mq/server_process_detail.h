// Process helpers of mq/server_process.cpp, shared with the per-server setup files
// (server_process_pg.cpp). Not a public interface: only BrokerProcess's own files include it.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "mq/server_process.h"

namespace pathbench::mq::detail {

// `name` in search_path's folders (':'-separated; empty = $PATH); "" when absent.
std::string find_program(const std::string& name, const std::string& search_path);
// PostgreSQL's `name` (initdb, postgres): search_path when set, else $PATH, then Debian's
// /usr/lib/postgresql/<highest major>/bin; "" when absent.
std::string find_postgres_program(const std::string& name, const std::string& search_path);
// "cannot start a private ... server: the program ... was not found ...; install the Debian package ...".
std::runtime_error missing_program(const std::string& program, const std::string& package, const std::string& search_path);
int free_loopback_port();
int connect_loopback(int port, int timeout_ms);
bool answers_with(int port, std::string_view greeting, int timeout_ms);
std::vector<std::string> current_environment();
void set_env(std::vector<std::string>& env, const std::string& name, const std::string& value);
pid_t spawn(std::vector<std::string> args, std::vector<std::string> env, const std::filesystem::path& output);
// Runs a helper command to completion within `timeout_ns`; its exit code, or -1 (killed/failed).
int run_bounded(std::vector<std::string> args, std::vector<std::string> env, const std::filesystem::path& output,
                Nanos timeout_ns);
std::string tail_of(const std::filesystem::path& file, std::size_t max_chars = 1500);
std::filesystem::path make_folder(const std::string& kind);
void chown_tree_to(const std::filesystem::path& folder, uid_t uid, gid_t gid);

// PostgreSQL (server_process_pg.cpp): the command line that runs initdb into `folder`/data and
// then the server (listening on 127.0.0.1:`port` and a unix socket in `folder`); sets `port`
// and `url`. Throws std::runtime_error when a program is missing (naming the Debian package
// postgresql). An initdb failure shows as the server exiting during startup, with its output.
std::vector<std::string> prepare_postgres(const std::filesystem::path& folder, const BrokerOptions& options,
                                          std::vector<std::string>& env, int& port, std::string& url);

}  // namespace pathbench::mq::detail
