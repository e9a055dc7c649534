#include "mq/process_tree.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

namespace pathbench::mq {

namespace {

// The fields of /proc/PID/stat after "pid (comm)": comm may hold spaces and parentheses, so the
// last ')' ends it. Empty when the process is gone.
std::string stat_fields(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) return "";
  return text.substr(close + 2);
}

}  // namespace

std::vector<pid_t> descendants_of(pid_t root) {
  std::multimap<pid_t, pid_t> children;  // parent -> child
  if (DIR* proc = ::opendir("/proc")) {
    while (dirent* entry = ::readdir(proc)) {
      char* end = nullptr;
      const long pid = std::strtol(entry->d_name, &end, 10);
      if (pid <= 0 || *end != '\0') continue;
      std::istringstream fields(stat_fields(static_cast<pid_t>(pid)));
      std::string state;
      long ppid = 0;
      if (!(fields >> state >> ppid)) continue;
      children.emplace(static_cast<pid_t>(ppid), static_cast<pid_t>(pid));
    }
    ::closedir(proc);
  }
  std::vector<pid_t> found;
  std::vector<pid_t> frontier{root};
  while (!frontier.empty()) {
    pid_t parent = frontier.back();
    frontier.pop_back();
    auto [first, last] = children.equal_range(parent);
    for (auto it = first; it != last; ++it) {
      found.push_back(it->second);
      frontier.push_back(it->second);
    }
  }
  return found;
}

Nanos tree_cpu_ns(pid_t root) {
  const long ticks_per_s = ::sysconf(_SC_CLK_TCK);
  if (ticks_per_s <= 0) return 0;
  auto cpu_ticks = [](pid_t pid, bool with_children) -> long long {
    std::istringstream fields(stat_fields(pid));
    // state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    std::string skip;
    for (int i = 0; i < 11; ++i)
      if (!(fields >> skip)) return 0;
    long long utime = 0, stime = 0, cutime = 0, cstime = 0;
    fields >> utime >> stime >> cutime >> cstime;
    return utime + stime + (with_children ? cutime + cstime : 0);
  };
  long long ticks = cpu_ticks(root, true);
  if (ticks == 0 && stat_fields(root).empty()) return 0;
  // Each process with the children it reaped: cutime/cstime cover only dead, reaped children,
  // so nothing is counted twice, and short-lived helpers (sh, df, inet_gethost) are not lost.
  for (pid_t p : descendants_of(root)) ticks += cpu_ticks(p, true);
  return static_cast<Nanos>(ticks) * kNanosPerSecond / ticks_per_s;
}

}  // namespace pathbench::mq
