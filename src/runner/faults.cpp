#include "runner/faults.h"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>

namespace pathbench {

namespace {
constexpr Nanos kHungDelayNs = 3600 * kNanosPerSecond;  // longer than any deadline
}  // namespace

FaultRunner::FaultRunner(const std::vector<FaultSpec>& faults, Topology& topology)
    : faults_(faults), topology_(topology) {
  std::stable_sort(faults_.begin(), faults_.end(), [](const FaultSpec& a, const FaultSpec& b) { return a.at_ns < b.at_ns; });
  if (!faults_.empty()) thread_ = std::thread([this] { run(); });
}

FaultRunner::~FaultRunner() { finish(); }

void FaultRunner::begin(Nanos start_ns) {
  {
    std::lock_guard lock(mutex_);
    start_ns_ = start_ns;
    started_ = true;
  }
  cv_.notify_all();
}

void FaultRunner::finish() {
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<PathRunResult::FaultEvent> FaultRunner::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

bool FaultRunner::wait_until(Nanos t) {
  std::unique_lock lock(mutex_);
  auto deadline = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(t));
  return !cv_.wait_until(lock, deadline, [this] { return finished_; });
}

void FaultRunner::run() {
  pthread_setname_np(pthread_self(), "pb-faults");
  Nanos start = 0;
  {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return started_ || finished_; });
    if (finished_) return;
    start = start_ns_;
  }
  for (std::size_t i = 0; i < faults_.size(); ++i) {
    const FaultSpec& f = faults_[i];
    if (!wait_until(start + f.at_ns)) return;
    PathRunResult::FaultEvent event;
    event.at_ns = now_ns() - start;
    event.what = f.action == FaultAction::slow_worker
                     ? fmt::format("{}({},{})", to_string(f.action), f.target, format_duration(f.delay_ns))
                     : fmt::format("{}({})", to_string(f.action), f.target);
    bool applied = false;
    try {
      applied = apply(f);
    } catch (const std::exception& e) {  // e.g. the port of a killed worker was taken meanwhile
      event.what += fmt::format(" failed: {}", e.what());
    }
    if (!applied && event.what.find("failed") == std::string::npos) event.what += " (no spawned worker: skipped)";
    // How long until the balancer stops routing to a killed worker: watched until it happens,
    // the next fault is due, or 5 s pass.
    if (applied && (f.action == FaultAction::kill_worker || f.action == FaultAction::pause_worker) && topology_.balancer()) {
      Nanos limit = std::min(start + (i + 1 < faults_.size() ? faults_[i + 1].at_ns : INT64_MAX / 2),
                             now_ns() + 5 * kNanosPerSecond);
      Nanos done_at = start + f.at_ns;
      while (now_ns() < limit) {
        auto backends = topology_.balancer()->stats().backends;
        if (static_cast<std::size_t>(f.target) < backends.size() && backends[static_cast<std::size_t>(f.target)].ejected) {
          event.ejected_after_ns = now_ns() - done_at;
          break;
        }
        if (!wait_until(now_ns() + kNanosPerMilli)) break;
      }
    }
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
}

bool FaultRunner::apply(const FaultSpec& f) {
  switch (f.action) {
    case FaultAction::kill_worker: return topology_.kill_worker(f.target);
    case FaultAction::restart_worker: return topology_.restart_worker(f.target);
    case FaultAction::slow_worker: return topology_.slow_worker(f.target, f.delay_ns);
    // A hung worker: connections stay open, every query waits out its deadline; its health
    // endpoint still answers (an application-level hang), so only failures can eject it.
    case FaultAction::pause_worker: return topology_.slow_worker(f.target, kHungDelayNs);
    case FaultAction::resume_worker: return topology_.slow_worker(f.target, 0);
    // Every connection to the worker is cut and it is back at once on the same address (what a
    // crash-and-restart or a reset middlebox does): in-flight work on it is lost, clients reconnect.
    case FaultAction::drop_connections: return topology_.kill_worker(f.target) && topology_.restart_worker(f.target);
    // Queue paths: the consumers stop taking requests; the broker keeps accepting them up to
    // its bound (then rejects), and everything queued is served once they resume.
    case FaultAction::pause_consumers: return topology_.pause_consumers(true);
    case FaultAction::resume_consumers: return topology_.pause_consumers(false);
  }
  return false;
}

}  // namespace pathbench
