// The load agent (`pathbench agent --listen HOST:PORT`): serves pathbench.v1.Agent
// (proto/agent.proto) on the one gRPC server builder (health + reflection come with it) and runs
// one path's share of a coordinator's load at a time, with the same load generator as a local run
// (measure/load_generator.h, a LoadShare of the scenario's threads).
//
// A Run: the coordinator's RunRequest (the scenario as TOML, loaded with the strict loader; the
// path; the thread range; the servers it resolved, replayed through ReplayEndpoints) → the agent
// makes the path, connects its client threads and sends Ready → Start (the start line on this
// agent's steady clock) → the load runs; the agent sends a Heartbeat every 250 ms and each
// completed Second, then its Result. The coordinator Pings every 250 ms; when no Ping came for
// `lost_after_ns` (1 s), or the stream is cancelled, the agent stops issuing (its load ends
// within about a second: issuing stops at once, what is in flight drains within its deadline)
// and the Run ends; the agent then waits for the next Run. One Run at a time: a second one
// waits up to 10 s for the first to end, then is refused with RESOURCE_EXHAUSTED.
//
// Threads: gRPC's sync server threads run Hello and Run (the run blocks its handler thread);
// each Run adds a reader thread (Start, Pings) and a sender thread (Heartbeats, Seconds).
// shutdown() (any thread) stops every run and the server; the destructor calls it.
#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/tls_config.h"

namespace pathbench {

namespace net {
class GrpcServer;
}

// The line `pathbench --version` prints; agents and coordinators must agree on it.
std::string pathbench_version_line();

struct AgentServerOptions {
  std::string listen = "127.0.0.1:0";
  Nanos heartbeat_interval_ns = 250 * kNanosPerMilli;
  Nanos lost_after_ns = 1 * kNanosPerSecond;  // no Ping for this long: the coordinator is gone
  std::string version = pathbench_version_line();  // what Hello tells (tests change it)
  // Mutual TLS on the control channel (core/tls_config.h); nullptr = plaintext. The load's own
  // channels present the process's client identity (net/tls_policy.h), set by `pathbench agent`.
  std::shared_ptr<const TlsMaterial> tls;
};

class AgentServer {
 public:
  // Throws std::runtime_error when it cannot listen.
  explicit AgentServer(AgentServerOptions options);
  ~AgentServer();
  AgentServer(const AgentServer&) = delete;
  AgentServer& operator=(const AgentServer&) = delete;

  const std::string& address() const noexcept;
  void shutdown();

  // For tests and the CLI's log: Runs begun / the requests the last finished Run issued (all
  // phases) / whether that Run was stopped because the coordinator went away.
  int runs_started() const noexcept { return runs_started_.load(); }
  std::int64_t last_run_issued() const noexcept { return last_run_issued_.load(); }
  bool last_run_lost_coordinator() const noexcept { return last_run_lost_coordinator_.load(); }
  // Steady-clock ns when the last Run's load generator returned (0: none yet).
  Nanos last_run_finished_ns() const noexcept { return last_run_finished_ns_.load(); }

 private:
  class Service;
  friend class Service;
  AgentServerOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> runs_started_{0};
  std::atomic<std::int64_t> last_run_issued_{0};
  std::atomic<bool> last_run_lost_coordinator_{false};
  std::atomic<Nanos> last_run_finished_ns_{0};
  std::unique_ptr<Service> service_;
  std::unique_ptr<net::GrpcServer> server_;
};

}  // namespace pathbench
