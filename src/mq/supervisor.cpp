#include "mq/supervisor.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "mq/process_tree.h"

namespace pathbench::mq {

namespace {

volatile sig_atomic_t g_stop_requested = 0;

void on_stop_signal(int) { g_stop_requested = 1; }

void sleep_ms(int ms) { ::poll(nullptr, 0, ms); }

void reap_children() {
  int status;
  while (::waitpid(-1, &status, WNOHANG) > 0) {
  }
}

// SIGTERM to the whole tree, then SIGKILL to whatever is left after `grace_ms`.
void end_tree(int grace_ms) {
  const pid_t self = ::getpid();
  for (pid_t p : descendants_of(self)) ::kill(p, SIGTERM);
  for (int waited = 0; waited < grace_ms; waited += 50) {
    reap_children();
    if (descendants_of(self).empty()) return;
    sleep_ms(50);
  }
  for (int round = 0; round < 20; ++round) {
    auto left = descendants_of(self);
    if (left.empty()) return;
    for (pid_t p : left) ::kill(p, SIGKILL);
    sleep_ms(50);
    reap_children();
  }
}

}  // namespace

int supervise_main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], kSuperviseCommand) != 0) return -1;
  if (argc < 5) return 2;
  // The parent's pid comes from the parent: had it died between fork and here, getppid() would
  // already name the reaper and the server would never be ended.
  const pid_t parent = static_cast<pid_t>(std::strtol(argv[2], nullptr, 10));
  const std::filesystem::path folder = argv[3];
  ::prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0, 0, 0);
  ::prctl(PR_SET_NAME, reinterpret_cast<unsigned long>("pb-supervise"), 0, 0, 0);
  struct sigaction action{};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(s, &action, nullptr);

  const pid_t server = ::fork();
  if (server < 0) return 127;
  if (server == 0) {
    struct sigaction defaults{};
    defaults.sa_handler = SIG_DFL;
    for (int s : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(s, &defaults, nullptr);
    ::execv(argv[4], argv + 4);
    ::_exit(127);
  }

  auto clean_up = [&folder] {
    end_tree(2000);
    std::error_code ec;
    std::filesystem::remove_all(folder, ec);
  };
  for (;;) {
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (r != server) continue;
      // The server ended by itself (or after a graceful stop): end what it left running, and
      // its folder goes too (the parent removes it as well; whoever is first).
      end_tree(2000);
      std::error_code ec;
      std::filesystem::remove_all(folder, ec);
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    if (g_stop_requested || ::getppid() != parent) {
      clean_up();
      return 128 + SIGTERM;
    }
    sleep_ms(50);
  }
}

}  // namespace pathbench::mq
