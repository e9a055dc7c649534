// The worker's engine: everything about running catalog queries, nothing about transports.
//
//   - The one QueryRequest -> QueryReply answer, shared by every front of every worker kind
//     (gRPC unary and stream, WebSocket, and the queue worker's consumers): decode_request()
//     (unknown kind, bad parameters -> INVALID_ARGUMENT naming the field), run_query() (the SQL
//     itself and its statuses) and fill_reply() (the reply's fields and status).
//   - QueryEngine: the bounded FIFO and the SQL threads behind the gRPC and WebSocket fronts of
//     roles/worker.h (threads "pb-<id>-sql<n>", see worker_thread_name), with the added delay of
//     a slow worker and the hard stop of a drain.
//
// Statuses are gRPC codes (the unary call's status; QueryReply.status on every other front).
#pragma once
#include <grpcpp/support/status_code_enum.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "db/executor.h"
#include "db/query.h"
#include "roles/worker.h"

namespace pathbench {

namespace v1 {
class QueryRequest;
class QueryReply;
}  // namespace v1

// How one request ended. `message` is empty on success, so an ok answer allocates nothing.
struct Answer {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  QueryResult result;
  Nanos queue_ns = 0;
  Nanos sql_ns = 0;
  Nanos total_ns = 0;
};

// Decodes `request` into `query`; false with an INVALID_ARGUMENT `answer` naming the field (or
// the unknown kind) when it is not a valid catalog query.
bool decode_request(const v1::QueryRequest& request, Query& query, Answer& answer);

// Runs `query` on `executor` (nullptr: a worker without a database, where only echo is served)
// with SQLite interrupted at min(deadline_ns, hard_stop_ns) (steady ns; kNoDeadline = none).
// Sets answer.result and answer.sql_ns, and on failure answer.code/message: INVALID_ARGUMENT
// from the executor's parameter checks, DEADLINE_EXCEEDED, INTERNAL for an SQL error,
// FAILED_PRECONDITION without a database, UNAVAILABLE ("worker <id> is shutting down") when
// the hard stop interrupted it. Echo returns at once. Called on the thread that owns `executor`.
void run_query(const Query& query, QueryExecutor* executor, Nanos deadline_ns, Nanos hard_stop_ns,
               const std::string& worker_id, Answer& answer);

// The UNAVAILABLE answer of a worker cut off by its drain.
void shutting_down(Answer& answer, const std::string& worker_id);

// The reply for `answer`: request id, status (absent when OK), result, the worker's timings and id.
void fill_reply(v1::QueryReply& reply, std::uint64_t request_id, const Answer& answer, const std::string& worker_id);

// gRPC deadlines are system_clock time points; our clock is steady_clock. Converting the time
// left (not the time point) keeps a wall-clock step from moving the deadline.
Nanos steady_deadline_ns(std::chrono::system_clock::time_point deadline, Nanos steady_now_ns);

// "worker-3" + "sql0" -> "pb-wk3-sql0"; other ids are cut so the suffix survives the kernel's
// 15-character limit (a profile needs the thread's role more than the id's tail).
std::string worker_thread_name(const std::string& id, const std::string& what);

// Whoever waits for a request's answer: a unary call, a stream, a WebSocket connection.
// complete() is called exactly once per request handed to QueryEngine::accept(), from the
// thread that accepted it (echo, rejections, queries run inline) or from an SQL thread.
class AnswerSink {
 public:
  virtual void complete(std::uint64_t request_id, Answer answer) = 0;
  // Whether the client gave up (a queued query it no longer waits for is not run). Any thread.
  virtual bool cancelled() const noexcept = 0;

 protected:
  ~AnswerSink() = default;
};

// The queue and the SQL threads. accept() is called on the fronts' threads (gRPC's, the
// WebSocket io thread); answers reach an AnswerSink. Counts every request in WorkerStats.
// At most options.threads queries run at once, each holding one of as many SQL slots (an
// executor each): when nothing is queued, no delay is added and a slot is free, accept() runs
// the query itself on the calling thread — no hand-off through the queue's mutex and
// condition variable to an SQL thread; otherwise the query is queued for the SQL threads.
class QueryEngine {
 public:
  // Opens one executor per SQL thread (throws std::runtime_error "worker <id>: ..." when the
  // database cannot be opened) and starts the threads, named before the constructor returns.
  explicit QueryEngine(const WorkerOptions& options);
  ~QueryEngine();  // stop()
  QueryEngine(const QueryEngine&) = delete;
  QueryEngine& operator=(const QueryEngine&) = delete;

  const std::string& id() const noexcept { return options_.id; }

  // Answers at once (echo, unknown kind, full queue, or the query run inline in a free SQL
  // slot) or queues the query for an SQL thread.
  // Either way `sink.complete()` is called exactly once. `request` is not used after return.
  void accept(const v1::QueryRequest& request, Nanos received_ns, Nanos deadline_ns, AnswerSink& sink);

  void set_added_delay(Nanos delay_ns);

  // From `at_ns` on, queued queries are answered UNAVAILABLE and running ones are interrupted,
  // so a drain is bounded even for clients without deadlines or a worker with a long added delay.
  void set_hard_stop(Nanos at_ns);

  // Lets the SQL threads empty the queue, then joins them. Idempotent. Called only once no
  // front can reach accept() any more (after grpc::Server::Shutdown has returned).
  void stop();

  WorkerStats stats() const;

 private:
  struct Job {
    Query query;
    std::uint64_t request_id = 0;
    Nanos received_ns = 0;
    Nanos deadline_ns = kNoDeadline;
    AnswerSink* sink = nullptr;
  };

  void sql_loop();
  bool try_acquire_slot(std::size_t& slot) noexcept;
  void release_slot(std::size_t slot) noexcept;
  Answer run(const Job& job, QueryExecutor* executor);
  void finish(const Job& job, Answer answer);
  void count(grpc::StatusCode code) noexcept;

  const WorkerOptions options_;
  std::atomic<Nanos> added_delay_ns_;
  std::atomic<std::uint64_t> received_{0}, ok_{0}, invalid_{0}, deadline_exceeded_{0}, rejected_{0}, failed_{0};

  std::mutex mu_;  // guards queue_ and stopping_; hard_stop_ns_ is written under it
  std::condition_variable queue_cv_;  // a job was queued, or stopping_
  // A separate condition variable for delayed queries: a notify_one meant for an idle thread
  // must not be swallowed by one that is sleeping out its added delay.
  std::condition_variable delay_cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::atomic<Nanos> hard_stop_ns_{kNoDeadline};

  // Queued or popped but not yet running (no slot yet): inline runs only when this is 0, so
  // they never overtake the queue. Changed under mu_ (pushes) or by the SQL thread that got a slot.
  std::atomic<int> waiting_{0};
  std::vector<std::unique_ptr<QueryExecutor>> executors_;  // [i] used only by the holder of slot i
  std::unique_ptr<std::atomic<bool>[]> slot_busy_;          // per executor: a query runs on it
  std::vector<std::thread> threads_;                       // last: joined before the above go
};

}  // namespace pathbench
