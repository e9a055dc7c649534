// The worker role: answers catalog queries from the sales database over gRPC (service
// pathbench.v1.Worker: unary Query and bidirectional QueryStream), with the standard
// grpc.health.v1 service and server reflection registered.
//
// Threads: gRPC's own threads receive requests; echo queries are answered right there;
// point/heavy queries go through a bounded FIFO to `threads` SQL threads ("pb-wk<id>-sql<n>"),
// each owning its QueryExecutor (own read-only connection and prepared statements, no shared
// mutex). The reply carries the worker's own timings (queue wait, SQL time, total).
//
// Lifetime: the constructor starts serving (throws std::runtime_error when it cannot listen
// or open the database); drain() reports NOT_SERVING on the health service, finishes what is
// in flight within `grace`, then shuts down; the destructor drains with the default grace and
// joins every thread.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "measure/clock.h"

namespace pathbench {

struct WorkerOptions {
  std::string id = "worker-0";            // appears in replies (QueryReply.worker_id) and thread names
  std::string listen = "127.0.0.1:0";     // host:port; port 0 = a free port
  std::filesystem::path db_path;          // required unless every query is echo
  int threads = 2;                        // SQL threads
  int max_queue = 4096;                   // queued queries beyond this get RESOURCE_EXHAUSTED
  Nanos added_delay_ns = 0;               // fault injection: extra time per query (a slow worker)
  std::int64_t max_message_bytes = 4 << 20;  // larger requests get RESOURCE_EXHAUSTED
};

struct WorkerStats {
  std::uint64_t received = 0, ok = 0, invalid = 0, deadline_exceeded = 0, rejected = 0, failed = 0;
};

class WorkerServer {
 public:
  explicit WorkerServer(const WorkerOptions& options);
  ~WorkerServer();
  WorkerServer(const WorkerServer&) = delete;
  WorkerServer& operator=(const WorkerServer&) = delete;

  // "127.0.0.1:40123": where the server listens (port resolved).
  std::string address() const;
  const std::string& id() const noexcept;
  WorkerStats stats() const;
  // Fault injection (thread-safe): add this much delay to every query from now on.
  void set_added_delay(Nanos delay_ns);

  // NOT_SERVING, finish in-flight work within `grace`, stop. Idempotent; thread-safe.
  void drain(Nanos grace_ns = 2 * kNanosPerSecond);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathbench
