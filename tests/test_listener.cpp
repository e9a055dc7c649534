// net/listener: the one TCP listener under every server. Out of descriptors it backs off instead
// of spinning (one log line per wait) and accepts again once descriptors are free; stop() frees
// the port at once.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "build_info.h"
#include "net/listener.h"

using namespace pathbench;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// An io_context run by one thread until the fixture goes.
struct IoThread {
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{asio::make_work_guard(io)};
  std::thread thread{[this] { io.run(); }};
  ~IoThread() {
    work.reset();
    io.stop();
    thread.join();
  }
};

bool connect_socket(int fd, std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

// A blocking loopback client; -1 when socket() or connect() fails.
int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (!connect_socket(fd, port)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Lowers RLIMIT_NOFILE for the test and puts it back, with every descriptor it opened closed.
struct LowFdLimit {
  rlimit saved{};
  std::vector<int> fillers;
  explicit LowFdLimit(rlim_t limit) {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rlimit low = saved;
    low.rlim_cur = limit;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  }
  // Opens /dev/null until the table is full; true when that ended with EMFILE.
  bool fill() {
    for (;;) {
      const int fd = ::open("/dev/null", O_RDONLY);
      if (fd < 0) return errno == EMFILE;
      fillers.push_back(fd);
    }
  }
  void free_fillers() {
    for (int fd : fillers) ::close(fd);
    fillers.clear();
  }
  ~LowFdLimit() {
    free_fillers();
    ::setrlimit(RLIMIT_NOFILE, &saved);
  }
};

template <typename Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace

TEST_CASE("listener: out of descriptors, accepting backs off without spinning, logs once per wait, then resumes") {
  if (pathbench::build::sanitized) {
    // The sanitizer runtime needs descriptors itself (a pipe for each memory check of UBSan's
    // vptr test): with the table full it reports false "invalid vptr" errors. The Release round
    // runs this test.
    MESSAGE("SKIP: fd exhaustion starves the sanitizer runtime; this test runs in the Release round");
    return;
  }
  IoThread loop;
  std::mutex mutex;
  std::vector<std::string> lines;
  std::vector<tcp::socket> accepted;
  net::ListenerOptions options{.min_backoff_ns = 50 * kNanosPerMilli,
                               .max_backoff_ns = 400 * kNanosPerMilli,
                               .log = [&](const std::string& line) {
                                 std::lock_guard lock(mutex);
                                 lines.push_back(line);
                               }};
  net::Listener listener(loop.io, "127.0.0.1:0", "test listener", options);
  listener.start([&](tcp::socket socket) {
    std::lock_guard lock(mutex);
    accepted.push_back(std::move(socket));
  });
  const auto accepted_count = [&] {
    std::lock_guard lock(mutex);
    return accepted.size();
  };

  std::vector<int> clients;
  {
    // Room for a few descriptors beyond what the process holds now, all taken by fillers.
    const auto open_now = static_cast<rlim_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"), {}));
    LowFdLimit limit(std::max<rlim_t>(64, open_now + 32));
    // Three clients' sockets exist before the table fills; they connect after: their connections
    // wait in the backlog, and the listener has no descriptor left to accept them with.
    for (int i = 0; i < 3; ++i) {
      clients.push_back(::socket(AF_INET, SOCK_STREAM, 0));
      REQUIRE(clients.back() >= 0);
    }
    REQUIRE(limit.fill());
    for (int fd : clients) REQUIRE(connect_socket(fd, listener.port()));

    const double cpu_before = cpu_seconds();
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    const double cpu_used = cpu_seconds() - cpu_before;
    CAPTURE(cpu_used);
    CHECK(cpu_used < 0.15);  // a spinning accept loop burns most of the 1.2 s
    CHECK(accepted_count() == 0);
    {
      std::lock_guard lock(mutex);
      CAPTURE(lines.size());
      // Waits of 50, 100, 200, 400, 400 ms fit in 1.2 s: a handful of lines, not one per failure.
      CHECK(lines.size() >= 3);
      CHECK(lines.size() <= 8);
      REQUIRE(!lines.empty());
      CHECK(lines.front().find("Too many open files") != std::string::npos);
      CHECK(lines.front().find("accepting again in 50 ms") != std::string::npos);
      const auto stats = listener.stats();
      CHECK(stats.backoffs == lines.size());
      CHECK(stats.accepted == 0);
    }

    // Descriptors free again: the next try after the current wait (at most 400 ms) accepts all three.
    limit.free_fillers();
    CHECK(wait_for([&] { return accepted_count() == 3; }, std::chrono::milliseconds(3000)));
  }  // the limit is restored here
  CHECK(listener.stats().accepted == 3);
  for (int fd : clients) ::close(fd);
  listener.stop();
}

TEST_CASE("listener: stop() frees the port at once, and a new listener binds the same port") {
  IoThread loop;
  std::atomic<int> first_accepted{0}, second_accepted{0};
  std::vector<tcp::socket> keep;  // touched on the io thread only
  std::uint16_t port = 0;
  {
    net::Listener first(loop.io, "127.0.0.1:0", "first");
    port = first.port();
    CHECK(first.address() == "127.0.0.1:" + std::to_string(port));
    first.start([&](tcp::socket socket) {
      keep.push_back(std::move(socket));  // a connection still open when the listener stops
      ++first_accepted;
    });
    const int fd = connect_to(port);
    REQUIRE(fd >= 0);
    CHECK(wait_for([&] { return first_accepted.load() == 1; }, std::chrono::milliseconds(2000)));
    first.stop();  // from this thread while the loop runs on another
    CHECK(connect_to(port) == -1);  // nobody listens any more
    ::close(fd);
    // The listener object itself is still alive here: stop(), not the destructor, freed the port.
    net::Listener second(loop.io, "127.0.0.1:" + std::to_string(port), "second");
    CHECK(second.port() == port);
    second.start([&](tcp::socket) { ++second_accepted; });
    const int fd2 = connect_to(port);
    REQUIRE(fd2 >= 0);
    CHECK(wait_for([&] { return second_accepted.load() == 1; }, std::chrono::milliseconds(2000)));
    ::close(fd2);
    CHECK(first_accepted.load() == 1);
  }
}

TEST_CASE("listener: a listen address that is not host:port, or a port in use, is refused with a reason") {
  asio::io_context io;
  CHECK_THROWS_WITH_AS(net::Listener(io, "nonsense", "echo server"),
                       "echo server: bad listen address \"nonsense\" (expected host:port)", std::runtime_error);
  CHECK_THROWS_WITH_AS(net::Listener(io, "localhost:0", "broker"),
                       doctest::Contains("broker: bad listen address \"localhost:0\""), std::runtime_error);
  net::Listener taken(io, "127.0.0.1:0", "taken");
  // Without SO_REUSEPORT a second listener on a listening port fails, SO_REUSEADDR or not.
  CHECK_THROWS_WITH_AS(net::Listener(io, taken.address(), "metrics"),
                       doctest::Contains(("metrics: cannot listen on " + taken.address()).c_str()), std::runtime_error);
  // Brackets around an IPv6 address come back in address() (where the host has IPv6 loopback).
  try {
    net::Listener v6(io, "[::1]:0", "v6");
    CHECK(v6.address().rfind("[::1]:", 0) == 0);
  } catch (const std::runtime_error& e) {
    MESSAGE("no IPv6 loopback here: " << e.what());
  }
}
