// A private broker server never outlives pathbench: SIGKILL the runner in the middle of a run over
// a private nats-server / rabbitmq-server and every process of the server's tree is gone, and its
// temporary folder removed, within seconds (mq/supervisor.h). The RabbitMQ node listens on
// loopback only.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "skip_guard.h"
#include "test_helpers.h"

using namespace pathbench::testing;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> cmdline_of(pid_t pid) {
  std::string raw = slurp("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> args;
  std::string arg;
  for (char c : raw) {
    if (c == '\0') {
      args.push_back(arg);
      arg.clear();
    } else {
      arg += c;
    }
  }
  return args;
}

std::multimap<pid_t, pid_t> process_tree() {
  std::multimap<pid_t, pid_t> children;
  for (auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = slurp(entry.path() / "stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) continue;
    children.emplace(std::atoi(stat.c_str() + close + 4), std::atoi(name.c_str()));
  }
  return children;
}

std::vector<pid_t> descendants(pid_t root) {
  auto tree = process_tree();
  std::vector<pid_t> found, frontier{root};
  while (!frontier.empty()) {
    pid_t p = frontier.back();
    frontier.pop_back();
    auto [a, b] = tree.equal_range(p);
    for (auto it = a; it != b; ++it) {
      found.push_back(it->second);
      frontier.push_back(it->second);
    }
  }
  return found;
}

bool alive(pid_t pid) {
  std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// "addr:port" of every TCP socket `pid` listens on, from /proc/net/tcp{,6}.
std::vector<std::string> listening_addresses(pid_t pid) {
  std::set<std::string> inodes;
  std::error_code ec;
  for (auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    auto target = fs::read_symlink(fd.path(), ec).string();
    if (target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::vector<std::string> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::istringstream lines(slurp(table));
    std::string line;
    std::getline(lines, line);
    while (std::getline(lines, line)) {
      std::istringstream f(line);
      std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
      f >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
      if (state == "0A" && inodes.count(inode)) out.push_back(local);
    }
  }
  return out;
}

void check_killed_run_leaves_nothing(const std::string& kind) {
  TempDir dir;
  write_file(dir / "s.toml", "[load]\nrate_per_s = 20\nduration = \"120s\"\nwarmup = \"0s\"\n[workers]\ncount = 1\n"
                             "[broker]\nkind = \"" + kind + "\"\n[[path]]\nkind = \"queue\"\n");
  const fs::path log = dir / "run.out";
  pid_t runner = ::fork();
  REQUIRE(runner >= 0);
  // Whatever a failed check leaves, the run does not outlive the test.
  struct KillOnExit {
    pid_t& pid;
    ~KillOnExit() {
      if (pid > 0 && ::kill(pid, SIGTERM) == 0) ::waitpid(pid, nullptr, 0);
    }
  } kill_on_exit{runner};
  if (runner == 0) {
    std::string out = log.string(), scenario = (dir / "s.toml").string(), results = (dir / "out").string();
    freopen(out.c_str(), "w", stdout);
    freopen(out.c_str(), "a", stderr);
    ::execl(PATHBENCH_BINARY, PATHBENCH_BINARY, "run", scenario.c_str(), "--out", results.c_str(), nullptr);
    ::_exit(127);
  }
  // Wait until the path runs (its line names the broker's URL), at most 90 s.
  const std::string url_prefix = kind == "nats" ? "nats://127.0.0.1:" : "amqp://";
  bool running = false;
  for (int i = 0; i < 900 && !running; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    running = slurp(log).find(url_prefix) != std::string::npos;
  }
  CAPTURE(slurp(log));
  REQUIRE(running);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  pid_t supervisor = 0;
  fs::path folder;
  for (pid_t p : descendants(runner)) {
    auto args = cmdline_of(p);
    if (args.size() > 4 && args[1] == "__supervise") {  // __supervise PARENT_PID FOLDER SERVER ...
      supervisor = p;
      folder = args[3];
    }
  }
  REQUIRE(supervisor > 0);
  REQUIRE(fs::exists(folder));
  std::vector<pid_t> tree = descendants(supervisor);
  tree.push_back(supervisor);
  REQUIRE(tree.size() >= 2);
  if (kind == "rabbitmq") {
    // Everything the node listens on is loopback: 127.0.0.1 is 0100007F in /proc/net/tcp.
    for (pid_t p : tree) {
      for (auto& address : listening_addresses(p)) {
        CAPTURE(p);
        CAPTURE(address);
        CHECK((address.rfind("0100007F:", 0) == 0 || address.rfind("00000000000000000000000001000000:", 0) == 0));
      }
    }
  }

  ::kill(runner, SIGKILL);
  int status = 0;
  ::waitpid(runner, &status, 0);
  runner = 0;
  bool gone = false;
  for (int i = 0; i < 150 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = !fs::exists(folder);
    for (pid_t p : tree) gone = gone && !alive(p);
  }
  for (pid_t p : tree) {
    CAPTURE(p);
    CHECK_FALSE(alive(p));
  }
  CHECK_FALSE(fs::exists(folder));
}

}  // namespace

TEST_SUITE_BEGIN("realmq");

TEST_CASE("realmq: a SIGKILLed run leaves no nats-server and no folder behind") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("nats");
  check_killed_run_leaves_nothing("nats");
}

TEST_CASE("realmq: a SIGKILLed run leaves no rabbitmq-server tree and no folder behind; the node listens on loopback") {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("rabbitmq");
  check_killed_run_leaves_nothing("rabbitmq");
}

TEST_SUITE_END();

TEST_CASE("realmq: a private server's CPU is counted as broker time" * doctest::test_suite("realmq")) {
  PATHBENCH_SKIP_UNLESS_BROKER_SERVER("nats");
  TempDir dir;
  write_file(dir / "s.toml", "[load]\nrate_per_s = 3000\nduration = \"2s\"\nwarmup = \"0s\"\n[workers]\ncount = 1\n"
                             "[query]\nmix = { echo = 1 }\n[broker]\nkind = \"nats\"\n[[path]]\nkind = \"queue\"\n");
  auto r = run_pathbench("run " + (dir / "s.toml").string() + " --out " + (dir / "out").string());
  CAPTURE(r.output);
  REQUIRE(r.exit_code == 0);
  std::istringstream csv(slurp(dir / "out" / "summary.csv"));
  std::string header, row;
  std::getline(csv, header);
  std::getline(csv, row);
  auto column = [](const std::string& line, std::size_t index) {
    std::istringstream fields(line);
    std::string field;
    for (std::size_t i = 0; i <= index && std::getline(fields, field, ','); ++i) {
    }
    return field;
  };
  std::size_t broker = 0, total = 0, i = 0;
  std::istringstream names(header);
  for (std::string name; std::getline(names, name, ','); ++i) {
    if (name == "cpu_broker_us_per_req") broker = i;
    if (name == "cpu_total_us_per_req") total = i;
  }
  REQUIRE(broker > 0);
  CAPTURE(row);
  CHECK(std::stod(column(row, broker)) > 0.0);  // nats-server's own CPU, not only pathbench's threads
  CHECK(std::stod(column(row, total)) >= std::stod(column(row, broker)));
}
