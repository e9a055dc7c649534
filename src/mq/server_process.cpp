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
#include "mq/server_process_detail.h"
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

// The server's TLS files, copied into its folder (readable by the user it may run as); their new
// paths. On failure the folder is removed before the throw.
std::array<std::string, 3> copy_tls_files(const TlsFiles& tls, const fs::path& folder) {
  std::array<std::string, 3> out;
  const fs::path* from[3] = {&tls.ca, &tls.cert, &tls.key};
  const char* names[3] = {"tls-ca.pem", "tls-cert.pem", "tls-key.pem"};
  for (int i = 0; i < 3; ++i) {
    const fs::path to = folder / names[i];
    std::error_code ec;
    fs::copy_file(*from[i], to, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      const std::string why = ec.message();
      fs::remove_all(folder, ec);  // the caller's folder, made just before: nothing left behind
      throw std::runtime_error(fmt::format("cannot copy the TLS file {}: {}", from[i]->string(), why));
    }
    out[i] = to.string();
  }
  return out;
}

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

}  // namespace


using namespace detail;

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
  if (kind != "rabbitmq" && kind != "nats" && kind != "postgres")
    throw std::runtime_error(
        fmt::format("cannot start a \"{}\" server: only rabbitmq and nats (brokers) and postgres (a database) are "
                    "started by pathbench",
                    kind));
  auto state = std::make_unique<State>();
  state->kind = kind;
  state->options = options;
  const Nanos deadline = now_ns() + options.startup_timeout_ns;
  std::vector<std::string> env = current_environment();
  std::vector<std::string> args;
  int port = 0;

  if (kind == "postgres") {
    state->folder = make_folder(kind);
    try {
      args = prepare_postgres(state->folder, options, env, port, state->url);
    } catch (...) {
      std::error_code ec;
      fs::remove_all(state->folder, ec);
      throw;
    }
  } else if (kind == "nats") {
    std::string server = find_program("nats-server", options.search_path);
    if (server.empty()) throw missing_program("nats-server", "nats-server", options.search_path);
    state->folder = make_folder(kind);
    port = free_loopback_port();
    // JetStream on, stored in the server's own folder (one-way messaging with durable = true).
    args = {server, "-a", "127.0.0.1", "-p", std::to_string(port), "-js", "-sd", (state->folder / "jetstream").string()};
    if (!options.tls.empty()) {
      const auto [ca, cert, key] = copy_tls_files(options.tls, state->folder);
      args.insert(args.end(), {"--tls", "--tlscert", cert, "--tlskey", key, "--tlscacert", ca, "--tlsverify"});
    }
    args.insert(args.end(), options.server_args.begin(), options.server_args.end());
    state->url = fmt::format("nats://127.0.0.1:{}", port);
  } else {
    std::string server = find_program("rabbitmq-server", options.search_path);
    if (server.empty()) throw missing_program("rabbitmq-server", "rabbitmq-server", options.search_path);
    std::string ctl = find_program("rabbitmqctl", options.search_path);
    if (ctl.empty()) throw missing_program("rabbitmqctl", "rabbitmq-server", options.search_path);
    state->folder = make_folder(kind);
    const fs::path& f = state->folder;
    int tls_port = 0;
    if (!options.tls.empty()) {
      // rabbitmq.conf (RABBITMQ_CONFIG_FILE below): an AMQPS listener requiring a client certificate.
      const auto [ca, cert, key] = copy_tls_files(options.tls, f);
      tls_port = free_loopback_port();
      std::ofstream conf(f / "rabbitmq.conf");
      conf << fmt::format("listeners.ssl.1 = 127.0.0.1:{}\nssl_options.cacertfile = {}\nssl_options.certfile = {}\n"
                          "ssl_options.keyfile = {}\nssl_options.verify = verify_peer\nssl_options.fail_if_no_peer_cert = true\n",
                          tls_port, ca, cert, key);
      if (!conf.flush()) throw std::runtime_error(fmt::format("cannot write {}", (f / "rabbitmq.conf").string()));
    }
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
    if (tls_port) state->url = fmt::format("amqps://guest:guest@127.0.0.1:{}", tls_port);
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
    // PostgreSQL listens before it has finished starting up: it is ready once it says so.
    if (kind == "postgres" ? tail_of(output, 1 << 16).find("ready to accept connections") != std::string::npos
        : kind == "nats"   ? answers_with(port, "INFO", 500)
                           : [&] {
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
