#include "mq/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

#include "mq/process_tree.h"
#include "mq/supervisor.h"

namespace pathbench::mq {

namespace fs = std::filesystem;

struct BrokerProcess::State {
  std::string kind, url, node, ctl_program;
  fs::path folder;
  pid_t pgid = -1;
  bool leader_reaped = false;
  bool stopped = false;
  std::vector<std::string> env;  // for rabbitmqctl
  BrokerOptions options;
  std::mutex mutex;

  void stop_locked() noexcept;
  bool leader_alive() noexcept;
};

namespace {

// --- the process-wide registry ------------------------------------------------------------
// Signal handlers may only read lock-free atomics: the process groups live in a fixed array.
constexpr std::size_t kMaxBrokers = 32;
std::array<std::atomic<pid_t>, kMaxBrokers> g_process_groups{};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::vector<BrokerProcess::State*>& registry() {
  static std::vector<BrokerProcess::State*> r;
  return r;
}

void register_state(BrokerProcess::State* s) {
  static std::once_flag once;
  registry_mutex();
  registry();
  std::call_once(once, [] { std::atexit(stop_all_brokers); });
  std::lock_guard lock(registry_mutex());
  registry().push_back(s);
  for (auto& slot : g_process_groups) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, s->pgid)) break;
  }
}

void unregister_state(BrokerProcess::State* s) {
  std::lock_guard lock(registry_mutex());
  std::erase(registry(), s);
  for (auto& slot : g_process_groups) {
    pid_t expected = s->pgid;
    if (expected > 0 && slot.compare_exchange_strong(expected, 0)) break;
  }
}

// --- small process helpers --------------------------------------------------------------

std::string find_program(const std::string& name, const std::string& search_path) {
  std::string path = search_path;
  if (path.empty()) {
    const char* env = std::getenv("PATH");
    path = env ? env : "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
  }
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) return candidate.string();
  }
  return {};
}

std::runtime_error missing_program(const std::string& program, const std::string& package, const std::string& search_path) {
  return std::runtime_error(fmt::format(
      "cannot start a private {} server: the program {} was not found (looked in {}); install the Debian "
      "package {} (apt-get install {}) or give the broker's url instead of \"auto\"",
      package == "rabbitmq-server" ? "RabbitMQ" : "NATS", program, search_path.empty() ? "$PATH" : search_path, package,
      package));
}

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("cannot create a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind 127.0.0.1:0 to find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Connects to 127.0.0.1:port within `timeout_ms`; the connected socket or -1.
int connect_loopback(int port, int timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (::poll(&p, 1, timeout_ms) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the server on `port` sends a line starting with `greeting` within `timeout_ms`.
bool answers_with(int port, std::string_view greeting, int timeout_ms) {
  int fd = connect_loopback(port, timeout_ms);
  if (fd < 0) return false;
  std::string got;
  char buf[256];
  Nanos deadline = now_ns() + timeout_ms * kNanosPerMilli;
  while (got.size() < greeting.size() && now_ns() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>((deadline - now_ns()) / kNanosPerMilli) + 1) != 1) break;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return got.starts_with(greeting);
}

struct Argv {
  std::vector<std::string> storage;
  std::vector<char*> pointers;
  explicit Argv(std::vector<std::string> items) : storage(std::move(items)) {
    for (auto& s : storage) pointers.push_back(s.data());
    pointers.push_back(nullptr);
  }
  char** get() { return pointers.data(); }
};

std::vector<std::string> current_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return env;
}

void set_env(std::vector<std::string>& env, const std::string& name, const std::string& value) {
  std::string prefix = name + "=";
  std::erase_if(env, [&](const std::string& e) { return e.starts_with(prefix); });
  env.push_back(prefix + value);
}

// Starts `argv` in a new process group with output appended to `output`; returns its pid.
pid_t spawn(std::vector<std::string> args, std::vector<std::string> env, const fs::path& output) {
  Argv argv(std::move(args));
  Argv envp(std::move(env));
  std::string out = output.string();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(fmt::format("fork failed: {}", std::strerror(errno)));
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::setpgid(0, 0);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    // Nothing else of ours goes along: Asio's sockets are not close-on-exec, and a listener a
    // server inherited would keep accepting after pathbench closed it.
    ::close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv.pointers[0], argv.get(), envp.get());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so the group exists before anyone signals it
  return pid;
}

// Runs a helper command to completion within `timeout_ns`; its exit code, or -1 (killed/failed).
int run_bounded(std::vector<std::string> args, std::vector<std::string> env, const fs::path& output, Nanos timeout_ns) {
  pid_t pid;
  try {
    pid = spawn(std::move(args), std::move(env), output);
  } catch (const std::exception&) {
    return -1;
  }
  const Nanos deadline = now_ns() + timeout_ns;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r < 0) return -1;
    if (now_ns() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string tail_of(const fs::path& file, std::size_t max_chars = 1500) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  if (text.size() > max_chars) text = "..." + text.substr(text.size() - max_chars);
  return text;
}

fs::path make_folder(const std::string& kind) {
  std::string pattern = (fs::temp_directory_path() / fmt::format("pathbench-{}-XXXXXX", kind)).string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error(fmt::format("cannot create a folder for the {} server", kind));
  return pattern;
}

void chown_tree_to(const fs::path& folder, uid_t uid, gid_t gid) {
  [[maybe_unused]] int r = ::chown(folder.c_str(), uid, gid);
  for (auto& entry : fs::recursive_directory_iterator(folder)) r = ::chown(entry.path().c_str(), uid, gid);
}

}  // namespace

// --- State ----------------------------------------------------------------------------

bool BrokerProcess::State::leader_alive() noexcept {
  if (pgid <= 0) return false;
  if (!leader_reaped) {
    int status;
    if (::waitpid(pgid, &status, WNOHANG) == pgid) leader_reaped = true;
  }
  return !leader_reaped;
}

void BrokerProcess::State::stop_locked() noexcept {
  if (stopped) return;
  stopped = true;
  if (pgid > 0) {
    // Graceful first: rabbitmqctl stop waits until the node has halted.
    if (kind == "rabbitmq" && leader_alive())
      run_bounded({ctl_program, "-n", node, "stop"}, env, folder / "rabbitmqctl.out", options.stop_timeout_ns);
    else
      ::kill(-pgid, SIGTERM);
    auto group_gone = [&](Nanos bound_ns) {
      const Nanos deadline = now_ns() + bound_ns;
      for (;;) {
        leader_alive();
        if (leader_reaped && ::kill(-pgid, 0) != 0 && errno == ESRCH) return true;
        if (now_ns() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    };
    // The supervisor (in the group) ends what is left of the tree on SIGTERM within its own
    // grace (2 s TERM, then KILL rounds): give it that long before killing the group outright.
    if (!group_gone(kNanosPerSecond)) {
      ::kill(-pgid, SIGTERM);
      if (!group_gone(6 * kNanosPerSecond)) {
        ::kill(-pgid, SIGKILL);
        group_gone(2 * kNanosPerSecond);
      }
    }
    if (!leader_reaped) {
      int status;
      ::waitpid(pgid, &status, 0);
      leader_reaped = true;
    }
  }
  unregister_state(this);
  std::error_code ec;
  if (!folder.empty()) fs::remove_all(folder, ec);
}

// --- BrokerProcess ----------------------------------------------------------------------

BrokerProcess::BrokerProcess(std::unique_ptr<State> state) : state_(std::move(state)) {}
BrokerProcess::BrokerProcess(BrokerProcess&&) noexcept = default;
BrokerProcess& BrokerProcess::operator=(BrokerProcess&& other) noexcept {
  if (this != &other) {
    stop();
    state_ = std::move(other.state_);
  }
  return *this;
}
BrokerProcess::~BrokerProcess() { stop(); }

const std::string& BrokerProcess::kind() const noexcept { return state_->kind; }
const std::string& BrokerProcess::url() const noexcept { return state_->url; }
pid_t BrokerProcess::pid() const noexcept { return state_->pgid; }
Nanos BrokerProcess::cpu_ns() const {
  if (!state_) return 0;
  std::lock_guard lock(state_->mutex);
  if (state_->stopped || state_->pgid <= 0) return 0;
  return tree_cpu_ns(state_->pgid);
}

bool BrokerProcess::running() const noexcept {
  if (!state_) return false;
  std::lock_guard lock(state_->mutex);
  return !state_->stopped && state_->leader_alive();
}
void BrokerProcess::stop() noexcept {
  if (!state_) return;
  std::lock_guard lock(state_->mutex);
  state_->stop_locked();
}

BrokerProcess BrokerProcess::start(const std::string& kind, const BrokerOptions& options) {
  if (kind != "rabbitmq" && kind != "nats")
    throw std::runtime_error(fmt::format("cannot start a \"{}\" server: only rabbitmq and nats are started by pathbench", kind));
  auto state = std::make_unique<State>();
  state->kind = kind;
  state->options = options;
  const Nanos deadline = now_ns() + options.startup_timeout_ns;
  std::vector<std::string> env = current_environment();
  std::vector<std::string> args;
  int port = 0;

  if (kind == "nats") {
    std::string server = find_program("nats-server", options.search_path);
    if (server.empty()) throw missing_program("nats-server", "nats-server", options.search_path);
    state->folder = make_folder(kind);
    port = free_loopback_port();
    // JetStream on, stored in the server's own folder (one-way messaging with durable = true).
    args = {server, "-a", "127.0.0.1", "-p", std::to_string(port), "-js", "-sd", (state->folder / "jetstream").string()};
    state->url = fmt::format("nats://127.0.0.1:{}", port);
  } else {
    std::string server = find_program("rabbitmq-server", options.search_path);
    if (server.empty()) throw missing_program("rabbitmq-server", "rabbitmq-server", options.search_path);
    std::string ctl = find_program("rabbitmqctl", options.search_path);
    if (ctl.empty()) throw missing_program("rabbitmqctl", "rabbitmq-server", options.search_path);
    state->folder = make_folder(kind);
    const fs::path& f = state->folder;
    if (::getuid() == 0) {
      // Debian's wrapper runs the server as the `rabbitmq` user (su), which must own its folders.
      if (passwd* pw = ::getpwnam("rabbitmq")) {
        std::ofstream(f / "enabled_plugins") << "[].\n";
        chown_tree_to(f, pw->pw_uid, pw->pw_gid);
      }
    } else {
      // Not root: the wrapper refuses to run; call the scripts behind it directly, as ourselves,
      // with the Erlang cookie in our folder.
      std::error_code ec;
      fs::path real = fs::canonical(server, ec);
      if (!ec && real.filename() == "rabbitmq-script-wrapper") {
        server = (real.parent_path() / "rabbitmq-server").string();
        ctl = (real.parent_path() / "rabbitmqctl").string();
      }
      set_env(env, "HOME", f.string());
      std::ofstream(f / "enabled_plugins") << "[].\n";
    }
    static std::atomic<int> sequence{0};
    state->node = fmt::format("pathbench-{}-{}@localhost", ::getpid(), sequence.fetch_add(1));
    port = free_loopback_port();
    int dist_port = free_loopback_port();
    while (dist_port == port) dist_port = free_loopback_port();
    set_env(env, "RABBITMQ_NODENAME", state->node);
    set_env(env, "RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1");
    set_env(env, "RABBITMQ_NODE_PORT", std::to_string(port));
    set_env(env, "RABBITMQ_DIST_PORT", std::to_string(dist_port));
    // Erlang distribution and epmd on loopback only (they listen on every interface by default),
    // for the server and for rabbitmqctl's own short-lived node.
    set_env(env, "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}");
    set_env(env, "RABBITMQ_CTL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}");
    set_env(env, "ERL_EPMD_ADDRESS", "127.0.0.1");
    // An epmd of its own, so ending this server's tree never takes another node's epmd along.
    int epmd_port = free_loopback_port();
    while (epmd_port == port || epmd_port == dist_port) epmd_port = free_loopback_port();
    set_env(env, "ERL_EPMD_PORT", std::to_string(epmd_port));
    set_env(env, "RABBITMQ_MNESIA_BASE", (f / "mnesia").string());
    set_env(env, "RABBITMQ_LOG_BASE", (f / "log").string());
    // Nothing from /etc/rabbitmq: no plugins, no config, no env file — the same server every time.
    set_env(env, "RABBITMQ_ENABLED_PLUGINS_FILE", (f / "enabled_plugins").string());
    set_env(env, "RABBITMQ_CONFIG_FILE", (f / "rabbitmq").string());
    set_env(env, "RABBITMQ_ADVANCED_CONFIG_FILE", (f / "advanced.config").string());
    set_env(env, "RABBITMQ_CONF_ENV_FILE", (f / "rabbitmq-env.conf").string());
    args = {server};
    state->ctl_program = ctl;
    state->url = fmt::format("amqp://guest:guest@127.0.0.1:{}", port);
  }

  state->env = env;
  const fs::path output = state->folder / "server.out";
  // The server runs under a supervisor (mq/supervisor.h): this program again, which ends the
  // server's whole tree and removes the folder if pathbench goes away in any way.
  std::vector<std::string> supervised{"/proc/self/exe", kSuperviseCommand, std::to_string(::getpid()),
                                      state->folder.string()};
  supervised.insert(supervised.end(), args.begin(), args.end());
  try {
    state->pgid = spawn(supervised, env, output);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(state->folder, ec);
    throw;
  }
  register_state(state.get());
  BrokerProcess process(std::move(state));
  State& s = *process.state_;

  auto fail = [&](const std::string& why) -> std::runtime_error {
    std::string out = tail_of(output);
    std::string log;
    if (kind == "rabbitmq") log = tail_of(s.folder / "log" / (s.node + ".log"));
    std::string message = fmt::format("{} server ({}): {}{}{}{}", kind, args[0], why, out.empty() ? "" : "\n--- output:\n",
                                      out, log.empty() ? "" : "\n--- log:\n" + log);
    process.stop();
    return std::runtime_error(message);
  };

  // Ready when the port accepts (and NATS greets with INFO), bounded; early exit is a failure.
  for (;;) {
    {
      std::lock_guard lock(s.mutex);
      if (!s.leader_alive()) throw fail("exited during startup");
    }
    if (kind == "nats" ? answers_with(port, "INFO", 500) : [&] {
          int fd = connect_loopback(port, 200);
          if (fd >= 0) ::close(fd);
          return fd >= 0;
        }())
      break;
    if (now_ns() >= deadline)
      throw fail(fmt::format("not ready after {} s", options.startup_timeout_ns / kNanosPerSecond));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (kind == "rabbitmq") {
    Nanos left_ns = std::max<Nanos>(deadline - now_ns(), 5 * kNanosPerSecond);
    int rc = run_bounded({s.ctl_program, "-n", s.node, "await_startup", "--timeout",
                          std::to_string(std::max<Nanos>(left_ns / kNanosPerSecond, 1))},
                         env, s.folder / "rabbitmqctl.out", left_ns + kNanosPerSecond);
    if (rc != 0) throw fail(fmt::format("rabbitmqctl await_startup failed (exit {})\n{}", rc, tail_of(s.folder / "rabbitmqctl.out")));
  }
  return process;
}

void stop_all_brokers() noexcept {
  std::vector<BrokerProcess::State*> states;
  {
    std::lock_guard lock(registry_mutex());
    states = registry();
  }
  for (auto* s : states) {
    std::lock_guard lock(s->mutex);
    s->stop_locked();
  }
}

void kill_all_brokers_signal_safe() noexcept {
  for (auto& slot : g_process_groups) {
    pid_t pgid = slot.load();
    if (pgid > 0) ::kill(-pgid, SIGTERM);
  }
}

}  // namespace pathbench::mq
