// The worker role on the message-queue side: consumer threads that take serialized
// QueryRequests off the broker's request queue as competing consumers (mq::Responder, any broker
// kind), run them on the sales database and publish the QueryReply to the request's reply-to
// with its correlation id. Each consumer thread owns a QueryExecutor (its own read-only
// connection), so a worker here is as strong as a gRPC worker with as many SQL threads.
//
// The reply carries the hops: worker_queue_ns = the time the request spent in the broker (the
// worker's clock at delivery minus the request's sent_ns — one host's steady clock, so only
// meaningful when client and worker share a machine; 0 otherwise), worker_sql_ns, and
// worker_total_ns = that wait plus the worker's own time. A request whose time budget
// (timeout_ns from sent_ns) has already passed is answered DEADLINE_EXCEEDED without running.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "mq/mq.h"

namespace pathbench {

struct QueueWorkerOptions {
  std::string id = "worker-0";
  std::filesystem::path db_path;  // required unless every query is echo
  int threads = 2;                // consumer threads, each with its own executor
  mq::Endpoint endpoint;
};

class QueueWorker {
 public:
  // Connects and starts consuming; throws std::runtime_error (database or broker unreachable).
  explicit QueueWorker(const QueueWorkerOptions& options);
  ~QueueWorker();
  QueueWorker(const QueueWorker&) = delete;
  QueueWorker& operator=(const QueueWorker&) = delete;

  const std::string& id() const noexcept;
  // Fault injection (pause_consumers): stop / resume taking requests. Thread-safe.
  void pause(bool paused);
  mq::Responder::Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathbench
