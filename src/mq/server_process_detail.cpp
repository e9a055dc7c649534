// The process helpers of mq/server_process.cpp (mq/server_process_detail.h).
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mq/server_process_detail.h"

extern char** environ;

namespace pathbench::mq {

namespace fs = std::filesystem;

namespace detail {

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
      package == "rabbitmq-server" ? "RabbitMQ" : package == "postgresql" ? "PostgreSQL" : "NATS", program, search_path.empty() ? "$PATH" : search_path, package,
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

std::string tail_of(const fs::path& file, std::size_t max_chars) {
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

}  // namespace detail

}  // namespace pathbench::mq
