// What a path may ask of the run's servers: the narrow view of runner/Topology that a path's
// create function gets (paths sit below the runner). Each call starts what it names on first
// use and throws std::runtime_error with a readable reason when that cannot be done.
// Called from the runner's thread only (inside PathInfo::create).
#pragma once
#include <string>
#include <vector>

#include "broker/broker_server.h"
#include "mq/mq.h"

namespace pathbench {

// Servers a path starts for the workers itself (one-way messaging's consumers): registered with
// the Endpoints so the scenario's worker faults reach them as they reach the spawned workers.
// Called from the runner's fault thread (and restore() from the runner's thread); thread-safe.
class WorkerFaultTarget {
 public:
  // Worker `index`'s part dies at once (what it held unacknowledged goes back to the broker) /
  // comes back. False when it has no worker `index`.
  virtual bool kill_worker(int index) = 0;
  virtual bool restart_worker(int index) = 0;
  // Every worker's part stops / resumes taking messages. False when it has none.
  virtual bool pause_consumers(bool paused) = 0;
  // Everything back up and resumed (between paths).
  virtual void restore() = 0;

 protected:
  ~WorkerFaultTarget() = default;
};

class Endpoints {
 public:
  // "host:port" of every worker's gRPC front / of the balancer's (which starts the workers too).
  virtual const std::vector<std::string>& worker_addresses() = 0;
  virtual const std::string& balancer_address() = 0;
  // The same for their WebSocket fronts.
  virtual const std::vector<std::string>& worker_ws_addresses() = 0;
  virtual const std::string& balancer_ws_address() = 0;
  // The broker of `kind` (embedded | rabbitmq | nats) with the workers consuming its request queue.
  virtual mq::Endpoint queue_endpoint(const std::string& kind) = 0;
  // The broker of `kind` with the workers consuming its task queue (the task path's queue route).
  virtual mq::Endpoint task_queue_endpoint(const std::string& kind) = 0;
  // The run's in-process broker with every front on loopback.
  virtual broker::BrokerServer& broker_server() = 0;
  // The broker of `kind` as queue_endpoint resolves it, without the workers consuming its
  // request queue (a path that starts its own consumers).
  virtual mq::Endpoint broker_endpoint(const std::string& kind) = 0;
  // Faults on the workers reach `target` too from now on / no more (before it goes away).
  virtual void attach_worker_faults(WorkerFaultTarget& target) = 0;
  virtual void detach_worker_faults(WorkerFaultTarget& target) = 0;

 protected:
  ~Endpoints() = default;
};

}  // namespace pathbench
