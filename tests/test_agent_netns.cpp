// A run across "machines" without a second machine (issue 18, item 6, plain TCP): network
// namespaces the test makes itself — a hub namespace holding a bridge, and one namespace each for
// two workers, a balancer, two agents and the coordinator, joined to the bridge by veth pairs with
// addresses in 10.77.0.0/24. Nothing is added to the host's own namespace (the veth pairs are
// created inside the hub). Everything goes on every exit path: children are killed, namespaces
// deleted. Skips with the reason without root or `ip netns`.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <thread>
#include <vector>

#include "test_helpers.h"
#include "skip_guard.h"

using namespace pathbench::testing;

namespace {

int shell(const std::string& command) {
  int status = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The namespaces and their links; the destructor removes them (and whatever still runs in them
// is killed first by the Children below, declared after this).
class Netns {
 public:
  explicit Netns(std::string prefix) : prefix_(std::move(prefix)) {}
  ~Netns() {
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) shell("ip netns del " + *it);
  }
  std::string name(const std::string& node) const { return prefix_ + node; }
  // "" or why not.
  std::string add(const std::string& node) {
    const std::string ns = name(node);
    std::string out = ns + ".err";
    if (shell("ip netns add " + ns) != 0) return "`ip netns add` failed (needs CAP_SYS_ADMIN and CAP_NET_ADMIN)";
    made_.push_back(ns);
    if (shell(fmt::format("ip -n {} link set lo up", ns)) != 0) return "cannot bring up lo in a namespace";
    return "";
  }
  // The hub's bridge, then `node` linked to it with `address`/24.
  std::string bridge() {
    const std::string hub = name("hub");
    if (shell(fmt::format("ip -n {0} link add br0 type bridge && ip -n {0} link set br0 up", hub)) != 0)
      return "cannot make a bridge in the hub namespace";
    return "";
  }
  std::string link(const std::string& node, const std::string& address) {
    const std::string hub = name("hub"), ns = name(node);
    const std::string port = fmt::format("p{}", ++links_);
    if (shell(fmt::format("ip -n {0} link add {1} type veth peer name eth0 netns {2} && ip -n {0} link set {1} master br0 "
                          "&& ip -n {0} link set {1} up && ip -n {2} addr add {3}/24 dev eth0 && ip -n {2} link set eth0 up",
                          hub, port, ns, address)) != 0)
      return "cannot link namespace " + ns + " to the bridge with a veth pair";
    return "";
  }

 private:
  std::string prefix_;
  std::vector<std::string> made_;
  int links_ = 0;
};

// pathbench processes inside namespaces; SIGKILLed and reaped at scope exit.
class Children {
 public:
  ~Children() {
    for (auto& c : children_) stop(c.pid, SIGKILL);
  }
  // Starts `pathbench args...` in namespace `ns`, output to `log`; returns its index.
  std::size_t start(const std::string& ns, const std::filesystem::path& log, std::vector<std::string> args) {
    args.insert(args.begin(), PATHBENCH_BINARY);
    return start_program(ns, log, std::move(args));
  }
  // Starts `program args...` (program_and_args[0]) in namespace `ns` (`ip netns exec` execs it:
  // the pid is the program's), output to `log`; returns its index.
  std::size_t start_program(const std::string& ns, const std::filesystem::path& log, const std::vector<std::string>& program_and_args) {
    std::vector<std::string> argv{"ip", "netns", "exec", ns};
    argv.insert(argv.end(), program_and_args.begin(), program_and_args.end());
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      std::string out = log.string();
      if (!freopen(out.c_str(), "w", stdout) || !freopen(out.c_str(), "a", stderr)) ::_exit(126);
      std::vector<char*> raw;
      for (auto& a : argv) raw.push_back(a.data());
      raw.push_back(nullptr);
      ::execvp("ip", raw.data());
      ::_exit(127);
    }
    children_.push_back({pid, log});
    return children_.size() - 1;
  }
  // Waits until the child's log matches `ready` (at most 15 s).
  bool wait_for(std::size_t index, const std::string& ready) {
    for (int i = 0; i < 300; ++i) {
      if (read_file(children_[index].log).find(ready) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  void kill(std::size_t index) { stop(children_[index].pid, SIGKILL); }
  std::string log(std::size_t index) const { return read_file(children_[index].log); }

 private:
  struct Child {
    pid_t pid;
    std::filesystem::path log;
  };
  static void stop(pid_t& pid, int signal) {
    if (pid <= 0) return;
    ::kill(pid, signal);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
  std::vector<Child> children_;
};

// What `command` prints (a shell runs it), and its exit code.
CommandResult read_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs `pathbench ARGS` in namespace `ns` (the coordinator's); exit code and output.
CommandResult run_in(const std::string& ns, const std::string& args) {
  return read_command("ip netns exec " + ns + " '" + PATHBENCH_BINARY + "' " + args + " 2>&1");
}

}  // namespace

TEST_SUITE_BEGIN("netns");

TEST_CASE("netns: a balancer, two workers, two agents and the coordinator in six namespaces; an agent and a worker killed mid-run") {
  if (::geteuid() != 0) {
    MESSAGE("SKIP: network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN)");
    return;
  }
  if (!program_on_path("ip")) {
    MESSAGE("SKIP: `ip` (iproute2) is not installed");
    return;
  }
  TempDir dir;
  Netns net(fmt::format("pbn{}-", ::getpid()));
  for (const char* node : {"hub", "w1", "w2", "bal", "a1", "a2", "co"}) {
    if (std::string why = net.add(node); !why.empty()) {
      MESSAGE("SKIP: " << why);
      return;
    }
  }
  if (std::string why = net.bridge(); !why.empty()) {
    MESSAGE("SKIP: " << why);
    return;
  }
  const std::vector<std::pair<std::string, std::string>> hosts{{"w1", "10.77.0.11"}, {"w2", "10.77.0.12"},
                                                               {"bal", "10.77.0.13"}, {"a1", "10.77.0.21"},
                                                               {"a2", "10.77.0.22"}, {"co", "10.77.0.10"}};
  for (auto& [node, address] : hosts) {
    if (std::string why = net.link(node, address); !why.empty()) {
      MESSAGE("SKIP: " << why);
      return;
    }
  }
  const std::string db = (dir / "sales.db").string();
  auto seeded = run_pathbench("seed --db '" + db + "' --sales 3000");
  REQUIRE(seeded.exit_code == 0);

  // Every link over mutual TLS (one test CA, one identity for every node); plaintext only where
  // the openssl command is missing, then with --insecure (a non-loopback listener needs one or the other).
  const std::filesystem::path certs = dir / "certs";
  const bool tls = std::system(fmt::format("bash '{}/tests/make_test_certs.sh' '{}' "
                                           "IP:10.77.0.10,IP:10.77.0.11,IP:10.77.0.12,IP:10.77.0.13,IP:10.77.0.21,IP:10.77.0.22 >/dev/null 2>&1",
                                           PATHBENCH_SOURCE_DIR, certs.string()).c_str()) == 0;
  if (!tls) MESSAGE("openssl is missing: the namespaces talk plaintext (--insecure)");
  auto secured = [&](std::vector<std::string> args) {
    if (!tls) {
      args.push_back("--insecure");
      return args;
    }
    for (auto [flag, file] : {std::pair<const char*, const char*>{"--tls-ca", "ca.pem"}, {"--tls-cert", "node.pem"}, {"--tls-key", "node.key"}}) {
      args.push_back(flag);
      args.push_back((certs / file).string());
    }
    return args;
  };
  const std::string tls_table =
      tls ? fmt::format("[tls]\nca = \"{0}/ca.pem\"\ncert = \"{0}/node.pem\"\nkey = \"{0}/node.key\"\n", certs.string())
          : std::string("[tls]\nenabled = false\ninsecure = true\n");

  Children children;
  auto w1 = children.start(net.name("w1"), dir / "w1.log",
                           secured({"serve", "worker", "--listen", "10.77.0.11:50052", "--ws-listen", "off", "--db", db, "--id", "worker-1"}));
  auto w2 = children.start(net.name("w2"), dir / "w2.log",
                           secured({"serve", "worker", "--listen", "10.77.0.12:50052", "--ws-listen", "off", "--db", db, "--id", "worker-2"}));
  REQUIRE(children.wait_for(w1, "serving pathbench.v1.Worker"));
  REQUIRE(children.wait_for(w2, "serving pathbench.v1.Worker"));
  auto bal = children.start(net.name("bal"), dir / "bal.log",
                            secured({"serve", "balancer", "--listen", "10.77.0.13:50051", "--ws-listen", "off", "--workers",
                                     "10.77.0.11:50052,10.77.0.12:50052"}));
  auto a1 = children.start(net.name("a1"), dir / "a1.log", secured({"agent", "--listen", "10.77.0.21:50070"}));
  auto a2 = children.start(net.name("a2"), dir / "a2.log", secured({"agent", "--listen", "10.77.0.22:50070"}));
  CAPTURE(children.log(bal));
  REQUIRE(children.wait_for(bal, "serving pathbench.v1.Worker"));
  REQUIRE(children.wait_for(a1, "serving pathbench.v1.Agent"));
  REQUIRE(children.wait_for(a2, "serving pathbench.v1.Agent"));

  auto scenario = [&](const std::string& duration) {
    return fmt::format(R"(name = "netns"
[load]
rate_per_s = 400
threads = 4
duration = "{}"
warmup = "500ms"
deadline = "1s"
[query]
mix = {{ point = 1, heavy = 1 }}
[balancer]
endpoint = "10.77.0.13:50051"
[agents]
endpoints = ["10.77.0.21:50070", "10.77.0.22:50070"]
[[path]]
kind = "grpc_unary"
via = "balancer"
{})",
                       duration, tls_table);
  };

  // A clean run: issued = the sum over the agents, accounting holds, one row per agent.
  write_file(dir / "ok.toml", scenario("2s"));
  auto ok = run_in(net.name("co"), "run " + (dir / "ok.toml").string() + " --out " + (dir / "ok").string());
  CAPTURE(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find("accounting holds") != std::string::npos);
  std::string summary = read_file(dir / "ok" / "summary.csv");
  CAPTURE(summary);
  std::smatch all, r1, r2;
  const std::string issued_column = "^netns,grpc_unary_balancer,grpc_unary,balancer,main,all,[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+,([0-9]+),";
  std::regex all_row(issued_column + ".*,all$", std::regex::multiline);
  std::regex a1_row(issued_column + ".*,10\\.77\\.0\\.21:50070$", std::regex::multiline);
  std::regex a2_row(issued_column + ".*,10\\.77\\.0\\.22:50070$", std::regex::multiline);
  REQUIRE(std::regex_search(summary, all, all_row));
  REQUIRE(std::regex_search(summary, r1, a1_row));
  REQUIRE(std::regex_search(summary, r2, a2_row));
  CHECK(std::stoll(all[1]) == std::stoll(r1[1]) + std::stoll(r2[1]));
  CHECK(std::stoll(all[1]) == 800);  // 400/s for 2 s, constant arrivals: the one-generator schedule
  CHECK(read_file(dir / "ok" / "context.json").find("\"clock_uncertainty_ns\"") != std::string::npos);
  MESSAGE("netns run:\n" << ok.output);

  // A worker killed at ~1 s, an agent at ~1.5 s: the run ends on time, exit 1, that agent missing.
  write_file(dir / "kill.toml", scenario("3s"));
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // Hellos + start lead + warm-up
    children.kill(w1);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    children.kill(a2);
  });
  const auto began = std::chrono::steady_clock::now();
  auto killed = run_in(net.name("co"), "run " + (dir / "kill.toml").string() + " --out " + (dir / "kill").string());
  const auto took = std::chrono::steady_clock::now() - began;
  killer.join();
  CAPTURE(killed.output);
  CHECK(killed.exit_code == 1);
  CHECK(took < std::chrono::seconds(3 + 1 + 1 + 3 + 3));  // plan + deadline + start + lost bound + slack
  std::string partial = read_file(dir / "kill" / "summary.csv");
  CAPTURE(partial);
  CHECK(std::regex_search(partial, std::regex(",missing: [^\n]*,10\\.77\\.0\\.22:50070\n")));
  CHECK(std::regex_search(partial, std::regex(",true,false,[^\n]*,10\\.77\\.0\\.21:50070\n")));  // the survivor's accounting holds
  MESSAGE("netns run with a worker and an agent killed:\n" << killed.output);
}

// The PostgreSQL server programs' folder (Debian: /usr/lib/postgresql/N/bin), or "".
static std::string postgres_bin() {
  std::error_code ec;
  for (auto& v : std::filesystem::directory_iterator("/usr/lib/postgresql", ec))
    if (::access((v.path() / "bin" / "postgres").c_str(), X_OK) == 0 && ::access((v.path() / "bin" / "initdb").c_str(), X_OK) == 0)
      return (v.path() / "bin").string();
  return "";
}

TEST_CASE("netns: two workers on two hosts share one PostgreSQL on a third, every link over TLS; the tasks both finished are in its table") {
  // Issue 18 item 5: the database leaves the workers' machines. PostgreSQL in its own namespace
  // (10.77.0.20, SSL with client certificates from the test CA), two `serve worker`s (.11, .12)
  // on it over TLS, the coordinator (.10) seeding it and running a read path and the task path
  // against both workers by their endpoints.
  if (::geteuid() != 0) {
    MESSAGE("SKIP: network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN)");
    return;
  }
  for (const char* program : {"ip", "openssl", "setpriv", "psql"})
    if (!program_on_path(program)) {
      MESSAGE("SKIP: `" << program << "` is not installed");
      return;
    }
  const std::string bin = postgres_bin();
  if (bin.empty()) {
    MESSAGE("SKIP: PostgreSQL is not installed (Debian package postgresql)");
    return;
  }
  TempDir dir;
  Netns net(fmt::format("pbp{}-", ::getpid()));
  for (const char* node : {"hub", "pg", "w1", "w2", "co"}) {
    if (std::string why = net.add(node); !why.empty()) {
      MESSAGE("SKIP: " << why);
      return;
    }
  }
  if (std::string why = net.bridge(); !why.empty()) {
    MESSAGE("SKIP: " << why);
    return;
  }
  for (auto& [node, address] : std::vector<std::pair<std::string, std::string>>{
           {"pg", "10.77.0.20"}, {"w1", "10.77.0.11"}, {"w2", "10.77.0.12"}, {"co", "10.77.0.10"}}) {
    if (std::string why = net.link(node, address); !why.empty()) {
      MESSAGE("SKIP: " << why);
      return;
    }
  }
  const std::filesystem::path certs = dir / "certs";
  REQUIRE(std::system(fmt::format("bash '{}/tests/make_test_certs.sh' '{}' IP:10.77.0.10,IP:10.77.0.11,IP:10.77.0.12,IP:10.77.0.20 "
                                  ">/dev/null 2>&1",
                                  PATHBENCH_SOURCE_DIR, certs.string())
                          .c_str()) == 0);

  // The server: its own folder (owned by postgres), its own copy of the key, SSL only from the
  // namespaces' network, a client certificate from the test CA required.
  const std::filesystem::path pg = dir / "pg";
  std::filesystem::create_directories(pg);
  for (const char* file : {"ca.pem", "node.pem", "node.key"}) std::filesystem::copy_file(certs / file, pg / file);
  REQUIRE(std::system(fmt::format("chown -R postgres '{0}' && chmod 600 '{0}/node.key' && setpriv --reuid=postgres "
                                  "--regid=postgres --init-groups '{1}/initdb' -D '{0}/data' -U bench --auth=trust >'{0}/initdb.log' 2>&1",
                                  pg.string(), bin)
                          .c_str()) == 0);
  write_file(pg / "data" / "pg_hba.conf", "local all all trust\nhostssl all all 10.77.0.0/24 trust clientcert=verify-ca\n");
  std::system(fmt::format("chown postgres '{}/data/pg_hba.conf'", pg.string()).c_str());
  Children children;
  auto server = children.start_program(
      net.name("pg"), dir / "pg.log",
      {"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", bin + "/postgres", "-D", (pg / "data").string(),
       "-c", "listen_addresses=10.77.0.20", "-c", "port=5432", "-c", "unix_socket_directories=" + pg.string(), "-c", "ssl=on",
       "-c", "ssl_cert_file=" + (pg / "node.pem").string(), "-c", "ssl_key_file=" + (pg / "node.key").string(), "-c",
       "ssl_ca_file=" + (pg / "ca.pem").string(), "-c", "fsync=off"});
  CAPTURE(children.log(server));
  REQUIRE(children.wait_for(server, "ready to accept connections"));

  const std::string url = fmt::format("postgresql://bench@10.77.0.20:5432/postgres?sslmode=verify-full&sslrootcert={0}/ca.pem"
                                      "&sslcert={0}/node.pem&sslkey={0}/node.key",
                                      certs.string());
  // Without a client certificate the server refuses (what the workers rely on).
  CHECK(std::system(fmt::format("ip netns exec {} psql 'postgresql://bench@10.77.0.20:5432/postgres?sslmode=verify-full&"
                                "sslrootcert={}/ca.pem' -Atc 'SELECT 1' >/dev/null 2>&1",
                                net.name("co"), certs.string())
                        .c_str()) != 0);
  auto seeded = run_in(net.name("co"), "seed --db '" + url + "' --sales 3000");
  CAPTURE(seeded.output);
  REQUIRE(seeded.exit_code == 0);

  auto tls_args = [&](std::vector<std::string> args) {
    for (auto [flag, file] : {std::pair<const char*, const char*>{"--tls-ca", "ca.pem"}, {"--tls-cert", "node.pem"}, {"--tls-key", "node.key"}}) {
      args.push_back(flag);
      args.push_back((certs / file).string());
    }
    return args;
  };
  auto w1 = children.start(net.name("w1"), dir / "w1.log",
                           tls_args({"serve", "worker", "--listen", "10.77.0.11:50052", "--ws-listen", "off", "--db", url, "--id", "worker-1"}));
  auto w2 = children.start(net.name("w2"), dir / "w2.log",
                           tls_args({"serve", "worker", "--listen", "10.77.0.12:50052", "--ws-listen", "off", "--db", url, "--id", "worker-2"}));
  CAPTURE(children.log(w1));
  REQUIRE(children.wait_for(w1, "serving pathbench.v1.Worker"));
  REQUIRE(children.wait_for(w2, "serving pathbench.v1.Worker"));

  write_file(dir / "shared.toml", fmt::format(R"(name = "netns_pg"
[load]
rate_per_s = 200
threads = 2
duration = "2s"
warmup = "300ms"
deadline = "2s"
[database]
kind = "postgres"
url = "{0}"
[query]
mix = {{ point = 1, heavy = 1 }}
[task]
mix = {{ query = 1, write = 1 }}
[workers]
endpoints = ["10.77.0.11:50052", "10.77.0.12:50052"]
[tls]
ca = "{1}/ca.pem"
cert = "{1}/node.pem"
key = "{1}/node.key"
[[path]]
kind = "grpc_unary"
via = "direct"
connections = 2
[[path]]
kind = "task"
via = "direct"
connections = 2
)",
                                              url, certs.string()));
  auto run = run_in(net.name("co"), "run " + (dir / "shared.toml").string() + " --no-charts --out " + (dir / "out").string());
  CAPTURE(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.output.find("grpc_unary_direct: issued") != std::string::npos);
  CHECK(run.output.find("accounting holds") != std::string::npos);
  const std::string tasks = read_file(dir / "out" / "tasks.csv");
  CAPTURE(tasks);
  // path,...,issued,done,...,lost,...: the audit found every issued task done, nothing lost.
  const std::string header = tasks.substr(0, tasks.find('\n'));
  auto column = [&](const std::string& name) {
    std::vector<std::string> names, cells;
    std::stringstream h(header), r(tasks.substr(tasks.find('\n') + 1));
    for (std::string c; std::getline(h, c, ',');) names.push_back(c);
    std::string row;
    std::getline(r, row);
    std::stringstream rr(row);
    for (std::string c; std::getline(rr, c, ',');) cells.push_back(c);
    for (std::size_t i = 0; i < names.size() && i < cells.size(); ++i)
      if (names[i] == name) return cells[i];
    return std::string("?");
  };
  CHECK(column("lost") == "0");
  CHECK(std::stoll(column("issued")) >= 300);
  CHECK(column("done") == column("issued"));
  // Both workers, on their own hosts, finished tasks in the one table.
  auto counted = read_command(fmt::format("ip netns exec {} psql '{}' -Atc \"SELECT worker, count(*) > 0 FROM tasks WHERE state = "
                                          "'done' GROUP BY worker ORDER BY worker\"",
                                          net.name("co"), url));
  CHECK(counted.output == "worker-1|t\nworker-2|t\n");
  MESSAGE("netns run on a shared PostgreSQL:\n" << run.output);
}

TEST_SUITE_END();
