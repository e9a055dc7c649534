// The worker role: answers catalog queries from the sales database over gRPC (service
// pathbench.v1.Worker: unary Query and bidirectional QueryStream), with the standard
// grpc.health.v1 service and server reflection registered; and over WebSocket (binary frames,
// one serialized QueryRequest each, answered by a QueryReply carrying the status; many in
// flight per connection; net/websocket.h's limits), served by one io thread "pb-<id>-ws".
//
// Threads: gRPC's own (callback API) threads receive requests; echo queries are answered right
// there; point/heavy queries (and echo while an added delay is set) go through a bounded FIFO to
// `threads` SQL threads, named "pb-<id>-sql<n>" with a leading "worker-" shortened to "wk"
// ("worker-3" -> "pb-wk3-sql0") and the id cut to fit 15 characters, each owning its
// QueryExecutor (own read-only connection and prepared statements, no shared mutex). The reply
// carries the worker's own timings (queue wait, SQL time, total).
//
// Statuses (the unary call's status; on QueryStream, QueryReply.status, and the stream goes on):
// INVALID_ARGUMENT naming the field (unknown kind, or the executor's parameter checks);
// DEADLINE_EXCEEDED when the call's deadline passes in the queue, the added delay or SQLite;
// RESOURCE_EXHAUSTED beyond max_queue queued queries (and, from gRPC itself, for a request
// larger than max_message_bytes); INTERNAL for an SQL error; FAILED_PRECONDITION for point/heavy
// on a worker without db_path; UNAVAILABLE for queries cut off by drain()'s grace.
//
// Lifetime: the constructor opens the database (one connection per SQL thread) and starts
// serving; it throws std::runtime_error naming the file or the address when it cannot open the
// database or listen (a port already in use is an error: SO_REUSEPORT is off). drain() reports
// NOT_SERVING on the health service ("" and "pathbench.v1.Worker"), lets what is in flight
// finish within `grace` (after it, calls are cancelled, queued queries answered UNAVAILABLE and
// running ones interrupted), then stops the SQL threads; the destructor drains with the default
// grace and joins every thread.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/tls_config.h"

namespace pathbench {

struct WorkerOptions {
  std::string id = "worker-0";            // appears in replies (QueryReply.worker_id) and thread names
  std::string listen = "127.0.0.1:0";     // host:port; port 0 = a free port
  std::filesystem::path db_path;          // required unless every query is echo
  int threads = 2;                        // SQL threads
  int max_queue = 4096;                   // queued queries beyond this get RESOURCE_EXHAUSTED
  Nanos added_delay_ns = 0;               // fault injection: extra time per query (a slow worker)
  std::int64_t max_message_bytes = 4 << 20;  // larger requests get RESOURCE_EXHAUSTED
  // The WebSocket front (ws://HOST:PORT/query): "" = none. Same queries, same engine.
  std::string ws_listen = "127.0.0.1:0";
  std::int64_t ws_max_message_bytes = 1 << 20;  // larger messages close that connection with 1009
  // The Task RPC (roles/task_engine.h): how long a write to the tasks database waits for its lock.
  Nanos task_busy_timeout_ns = 1 * kNanosPerSecond;
  // Mutual TLS on its gRPC server and its WebSocket front (core/tls_config.h); nullptr = plaintext.
  std::shared_ptr<const TlsMaterial> tls;
  // ... and what its commits survive on SQLite ([database] durability: full | normal | off).
  std::string task_durability = "full";
};

// Every received request is counted once in received and, once answered, once in one of the
// others: ok; invalid (INVALID_ARGUMENT); deadline_exceeded; rejected (queue full); failed
// (SQL error, cancelled by the client, cut off by drain, no database).
struct WorkerStats {
  std::uint64_t received = 0, ok = 0, invalid = 0, deadline_exceeded = 0, rejected = 0, failed = 0;
};

struct TaskEngineStats;

class WorkerServer {
 public:
  explicit WorkerServer(const WorkerOptions& options);
  ~WorkerServer();
  WorkerServer(const WorkerServer&) = delete;
  WorkerServer& operator=(const WorkerServer&) = delete;

  // "127.0.0.1:40123": where the server listens (port resolved).
  std::string address() const;
  // "127.0.0.1:40124": the WebSocket front's address, "" when there is none.
  std::string ws_address() const;
  const std::string& id() const noexcept;
  WorkerStats stats() const;
  // The Task RPC's counters (roles/task_engine.h).
  TaskEngineStats task_stats() const;
  // Fault injection (thread-safe): add this much delay to every query from now on.
  void set_added_delay(Nanos delay_ns);

  // NOT_SERVING, finish in-flight work within `grace`, stop. Idempotent; thread-safe.
  void drain(Nanos grace_ns = 2 * kNanosPerSecond);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathbench
