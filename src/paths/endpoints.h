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

 protected:
  ~Endpoints() = default;
};

}  // namespace pathbench
