#include "roles/worker.h"

#include <fmt/format.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "db/executor.h"
#include "db/query.h"
#include "net/websocket.h"
#include "pathbench.grpc.pb.h"
#include "wire/query_codec.h"

namespace pathbench {
namespace {

constexpr const char* kServiceName = "pathbench.v1.Worker";
// A stream stops reading while this many of its requests are unanswered or answers unwritten,
// and resumes at half of it: a client that sends faster than it reads is slowed by HTTP/2 flow
// control instead of growing the worker's memory without bound.
constexpr std::size_t kMaxStreamBacklog = 1024;

// How one request ended: the unary call's status, or the stream reply's RequestStatus.
// `message` is empty on success, so an ok answer allocates nothing.
struct Answer {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  QueryResult result;
  Nanos queue_ns = 0;
  Nanos sql_ns = 0;
  Nanos total_ns = 0;
};

// Whoever waits for a request's answer: a unary call or a stream. complete() is called exactly
// once per request handed to QueryEngine::accept(), from the gRPC thread that accepted it
// (echo, rejections) or from an SQL thread.
class AnswerSink {
 public:
  virtual void complete(std::uint64_t request_id, Answer answer) = 0;
  // Whether the client gave up (a queued query it no longer waits for is not run). Any thread.
  virtual bool cancelled() const noexcept = 0;

 protected:
  ~AnswerSink() = default;
};

struct Job {
  Query query;
  std::uint64_t request_id = 0;
  Nanos received_ns = 0;
  Nanos deadline_ns = kNoDeadline;
  AnswerSink* sink = nullptr;
};

// gRPC deadlines are system_clock time points; our clock is steady_clock. Converting the time
// left (not the time point) keeps a wall-clock step from moving the deadline.
Nanos steady_deadline_ns(std::chrono::system_clock::time_point deadline, Nanos steady_now_ns) {
  if (deadline == std::chrono::system_clock::time_point::max()) return kNoDeadline;
  const auto left = deadline - std::chrono::system_clock::now();
  const Nanos left_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  if (left_ns >= kNoDeadline - steady_now_ns) return kNoDeadline;
  return steady_now_ns + left_ns;
}

std::chrono::steady_clock::time_point steady_time_point(Nanos at_ns) {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(at_ns));
}


// "worker-3" + "sql0" -> "pb-wk3-sql0"; other ids are cut so the suffix survives the kernel's
// 15-character limit (a profile needs the thread's role more than the id's tail).
std::string worker_thread_name(const std::string& id, const std::string& what) {
  std::string short_id = id;
  if (short_id.rfind("worker-", 0) == 0) short_id = "wk" + short_id.substr(7);
  const std::string suffix = "-" + what;
  const std::size_t room = 15 - std::min<std::size_t>(15, 3 + suffix.size());
  std::string name = "pb-" + short_id.substr(0, room) + suffix;
  return name.substr(0, 15);
}

void fill_reply(v1::QueryReply& reply, std::uint64_t request_id, const Answer& answer, const std::string& worker_id) {
  reply.set_request_id(request_id);
  if (answer.code != grpc::StatusCode::OK) {
    reply.mutable_status()->set_code(static_cast<int>(answer.code));
    reply.mutable_status()->set_message(answer.message);
  }
  reply.set_count(answer.result.count);
  reply.set_sum_cents(answer.result.sum_cents);
  reply.set_worker_queue_ns(answer.queue_ns);
  reply.set_worker_sql_ns(answer.sql_ns);
  reply.set_worker_total_ns(answer.total_ns);
  reply.set_worker_id(worker_id);
}

// The queue and the SQL threads: everything about running queries, nothing about gRPC calls.
// accept() is called on gRPC threads; answers reach an AnswerSink.
class QueryEngine {
 public:
  explicit QueryEngine(const WorkerOptions& options) : options_(options), added_delay_ns_(options.added_delay_ns) {
    const int threads = std::max(1, options.threads);
    // Opened here, on the constructing thread, so a missing or bad file fails the constructor
    // instead of one SQL thread; each executor is then used only by its own thread.
    for (int i = 0; i < threads; ++i) {
      if (options.db_path.empty()) {
        executors_.push_back(nullptr);
        continue;
      }
      try {
        executors_.push_back(std::make_unique<QueryExecutor>(options.db_path));
      } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("worker {}: {}", options.id, e.what()));
      }
    }
    try {
      for (int i = 0; i < threads; ++i) {
        threads_.emplace_back([this, i] { sql_loop(executors_[static_cast<std::size_t>(i)].get()); });
        // Named from here rather than by the thread itself, so the names are in place when the
        // constructor returns (a profile or a test looking right away sees them).
        pthread_setname_np(threads_.back().native_handle(), worker_thread_name(options_.id, fmt::format("sql{}", i)).c_str());
      }
    } catch (...) {
      stop();  // a constructor that throws runs no destructor: join what did start
      throw;
    }
  }
  ~QueryEngine() { stop(); }
  QueryEngine(const QueryEngine&) = delete;
  QueryEngine& operator=(const QueryEngine&) = delete;

  const std::string& id() const noexcept { return options_.id; }

  // Answers at once (echo, unknown kind, full queue) or queues the query for an SQL thread.
  // Either way `sink.complete()` is called exactly once. `request` is not used after return.
  void accept(const v1::QueryRequest& request, Nanos received_ns, Nanos deadline_ns, AnswerSink& sink) {
    received_.fetch_add(1, std::memory_order_relaxed);
    Job job{.query = {}, .request_id = request.request_id(), .received_ns = received_ns,
            .deadline_ns = deadline_ns, .sink = &sink};
    std::string bad_field;
    if (!from_proto(request, job.query, bad_field)) {
      Answer answer;
      answer.code = grpc::StatusCode::INVALID_ARGUMENT;
      answer.message = invalid_argument_message(bad_field, fmt::format("unknown query kind {}", static_cast<int>(request.kind())));
      return finish(job, std::move(answer));
    }
    // Echo measures transport alone, so it skips the queue and the SQL threads, unless a slow
    // worker is being simulated: then the delay must hold an SQL thread like any query does.
    if (job.query.kind == QueryKind::echo && added_delay_ns_.load(std::memory_order_relaxed) == 0) {
      return finish(job, Answer{});
    }
    bool stopping = false;
    bool queued = false;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
      if (!stopping && queue_.size() < static_cast<std::size_t>(std::max(0, options_.max_queue))) {
        queue_.push_back(job);
        queued = true;
      }
    }
    if (queued) return queue_cv_.notify_one();  // after unlocking: the woken thread needs mu_
    if (stopping) return finish(job, shutting_down(Answer{}));
    Answer answer;
    answer.code = grpc::StatusCode::RESOURCE_EXHAUSTED;
    answer.message = fmt::format("worker {} is overloaded: {} queries queued (max_queue)", options_.id, options_.max_queue);
    finish(job, std::move(answer));
  }

  void set_added_delay(Nanos delay_ns) { added_delay_ns_.store(std::max<Nanos>(0, delay_ns)); }

  // From `at_ns` on, queued queries are answered UNAVAILABLE and running ones are interrupted,
  // so a drain is bounded even for clients without deadlines or a worker with a long added delay.
  void set_hard_stop(Nanos at_ns) {
    {
      // Stored under mu_ so a delayed query between reading it and waiting cannot miss the notify.
      std::lock_guard lock(mu_);
      hard_stop_ns_.store(at_ns);
    }
    delay_cv_.notify_all();
  }

  // Lets the SQL threads empty the queue, then joins them. Idempotent. Called only once no
  // gRPC call can reach accept() any more (after grpc::Server::Shutdown has returned).
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  WorkerStats stats() const {
    WorkerStats s;
    s.received = received_.load(std::memory_order_relaxed);
    s.ok = ok_.load(std::memory_order_relaxed);
    s.invalid = invalid_.load(std::memory_order_relaxed);
    s.deadline_exceeded = deadline_exceeded_.load(std::memory_order_relaxed);
    s.rejected = rejected_.load(std::memory_order_relaxed);
    s.failed = failed_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  void sql_loop(QueryExecutor* executor) {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mu_);
        queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing left to answer
        job = queue_.front();
        queue_.pop_front();
      }
      finish(job, run(job, executor));
    }
  }

  Answer run(const Job& job, QueryExecutor* executor) {
    Answer answer;
    const Nanos dequeued_ns = now_ns();
    answer.queue_ns = dequeued_ns - job.received_ns;
    // The deadline first: gRPC cancels a call whose deadline passes, and that is a timeout.
    if (dequeued_ns > job.deadline_ns) {
      answer.code = grpc::StatusCode::DEADLINE_EXCEEDED;
      answer.message = fmt::format("deadline passed after {} us in the worker's queue", answer.queue_ns / kNanosPerMicro);
      return answer;
    }
    if (job.sink->cancelled()) {
      answer.code = grpc::StatusCode::CANCELLED;
      answer.message = "cancelled by the client while queued";
      return answer;
    }
    Nanos hard_stop_ns = hard_stop_ns_.load();
    if (dequeued_ns > hard_stop_ns) return shutting_down(std::move(answer));

    const Nanos delay_ns = added_delay_ns_.load(std::memory_order_relaxed);
    if (delay_ns > 0) {
      // Sleeps on a condition variable, not sleep_for, so a drain's hard stop cuts it short;
      // there is no point sleeping past the caller's deadline either.
      std::unique_lock lock(mu_);
      const Nanos delay_end_ns = delay_ns >= kNoDeadline - dequeued_ns ? kNoDeadline : dequeued_ns + delay_ns;
      const Nanos wake_ns = std::min(delay_end_ns, job.deadline_ns);
      for (;;) {
        const Nanos until_ns = std::min(wake_ns, hard_stop_ns_.load());
        if (now_ns() >= until_ns) break;
        delay_cv_.wait_until(lock, steady_time_point(until_ns));
      }
      hard_stop_ns = hard_stop_ns_.load();
      lock.unlock();
      const Nanos now = now_ns();
      if (now > job.deadline_ns) {
        answer.code = grpc::StatusCode::DEADLINE_EXCEEDED;
        answer.message = fmt::format("deadline passed during the worker's added delay of {} ms", delay_ns / kNanosPerMilli);
        return answer;
      }
      if (now > hard_stop_ns) return shutting_down(std::move(answer));
    }

    if (job.query.kind == QueryKind::echo) return answer;
    if (executor == nullptr) {
      answer.code = grpc::StatusCode::FAILED_PRECONDITION;
      answer.message = fmt::format("worker {} has no database: only echo queries can be served", options_.id);
      return answer;
    }
    QueryOutcome outcome = executor->run(job.query, std::min(job.deadline_ns, hard_stop_ns));
    answer.result = outcome.result;
    answer.sql_ns = outcome.sql_ns;
    switch (outcome.status) {
      case QueryStatus::ok:
        break;
      case QueryStatus::invalid_argument:
        answer.code = grpc::StatusCode::INVALID_ARGUMENT;
        answer.message = invalid_argument_message(outcome.error_field, outcome.error_message);
        break;
      case QueryStatus::deadline_exceeded:
        // Interrupted by a drain's hard stop rather than by the caller's own deadline.
        if (now_ns() <= job.deadline_ns) return shutting_down(std::move(answer));
        answer.code = grpc::StatusCode::DEADLINE_EXCEEDED;
        answer.message = "deadline exceeded while the query ran";
        break;
      case QueryStatus::error:
        answer.code = grpc::StatusCode::INTERNAL;
        answer.message = outcome.error_message.empty() ? std::string("SQL error") : std::move(outcome.error_message);
        break;
    }
    return answer;
  }

  Answer shutting_down(Answer answer) const {
    answer.code = grpc::StatusCode::UNAVAILABLE;
    answer.message = fmt::format("worker {} is shutting down", options_.id);
    return answer;
  }

  void finish(const Job& job, Answer answer) {
    answer.total_ns = now_ns() - job.received_ns;
    count(answer.code);
    job.sink->complete(job.request_id, std::move(answer));
  }

  void count(grpc::StatusCode code) noexcept {
    switch (code) {
      case grpc::StatusCode::OK: ok_.fetch_add(1, std::memory_order_relaxed); break;
      case grpc::StatusCode::INVALID_ARGUMENT: invalid_.fetch_add(1, std::memory_order_relaxed); break;
      case grpc::StatusCode::DEADLINE_EXCEEDED: deadline_exceeded_.fetch_add(1, std::memory_order_relaxed); break;
      case grpc::StatusCode::RESOURCE_EXHAUSTED: rejected_.fetch_add(1, std::memory_order_relaxed); break;
      default: failed_.fetch_add(1, std::memory_order_relaxed); break;
    }
  }

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

  std::vector<std::unique_ptr<QueryExecutor>> executors_;  // [i] used only by threads_[i]
  std::vector<std::thread> threads_;                       // last: joined before the above go
};

// One unary Query call. Lives from the handler until gRPC's OnDone, which comes only after
// Finish, and Finish is the last thing complete() does, so no SQL thread touches a deleted call.
class UnaryCall final : public grpc::ServerUnaryReactor, public AnswerSink {
 public:
  UnaryCall(const QueryEngine& engine, grpc::CallbackServerContext* context, v1::QueryReply* reply)
      : engine_(engine), context_(context), reply_(reply) {}

  void complete(std::uint64_t request_id, Answer answer) override {
    if (answer.code != grpc::StatusCode::OK) return Finish(grpc::Status(answer.code, answer.message));
    fill_reply(*reply_, request_id, answer, engine_.id());
    Finish(grpc::Status::OK);
  }
  bool cancelled() const noexcept override { return context_->IsCancelled(); }

  void OnDone() override { delete this; }

 private:
  const QueryEngine& engine_;
  grpc::CallbackServerContext* context_;
  v1::QueryReply* reply_;
};

// One QueryStream: reads continuously, so many requests are in flight at once; each answer is
// queued and written in completion order with one write in flight at a time.
// Reading pauses while the stream's backlog is at kMaxStreamBacklog.
//
// Answers arrive on SQL threads while reads and writes complete on gRPC threads, so all state
// is under mu_. StartWrite/Finish are called after releasing mu_: gRPC may run a reaction
// inline, and that reaction takes mu_ itself. The stream finishes once the client has stopped
// sending (or gone), every accepted request has been answered and the last write is done;
// only then can OnDone delete it, so no SQL thread ever holds a job for a deleted stream.
class StreamCall final : public grpc::ServerBidiReactor<v1::QueryRequest, v1::QueryReply>, public AnswerSink {
 public:
  StreamCall(QueryEngine& engine, grpc::CallbackServerContext* context) : engine_(engine), context_(context) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Half-close by the client, cancellation or shutdown: no more requests on this stream.
      std::unique_lock lock(mu_);
      reads_done_ = true;
      return act(next_action(lock));
    }
    const Nanos received_ns = now_ns();
    {
      std::lock_guard lock(mu_);
      ++outstanding_;
    }
    engine_.accept(request_, received_ns, steady_deadline_ns(context_->deadline(), received_ns), *this);
    {
      std::lock_guard lock(mu_);
      if (backlog() >= kMaxStreamBacklog) {
        read_paused_ = true;  // next_action() resumes reading once the backlog has halved
        return;
      }
    }
    // Last: once the next read is started, OnReadDone(false) may run on another thread and
    // finish (and delete) this stream.
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mu_);
    write_in_flight_ = false;
    if (ok) {
      writes_.pop_front();
    } else {
      // The stream is broken (client gone): nobody will read the rest.
      broken_ = true;
      writes_.clear();
    }
    act(next_action(lock));
  }

  void OnCancel() override {
    cancelled_.store(true, std::memory_order_relaxed);
    // A paused stream must read again to learn that it is over (OnReadDone(false)).
    std::unique_lock lock(mu_);
    act(next_action(lock));
  }
  void OnDone() override {
    // The thread that finished the stream may still be releasing mu_; taking it once orders
    // everything done under it before the delete (and says so to ThreadSanitizer, which cannot
    // see gRPC's own synchronisation between Finish and OnDone).
    { std::lock_guard lock(mu_); }
    delete this;
  }

  void complete(std::uint64_t request_id, Answer answer) override {
    std::unique_lock lock(mu_);
    --outstanding_;
    if (!broken_) {
      fill_reply(writes_.emplace_back(), request_id, answer, engine_.id());
    }
    act(next_action(lock));
  }
  bool cancelled() const noexcept override { return cancelled_.load(std::memory_order_relaxed); }

 private:
  struct Action {
    v1::QueryReply* write = nullptr;
    bool read = false;
    bool finish = false;
    grpc::Status status;  // with finish
  };

  std::size_t backlog() const { return static_cast<std::size_t>(outstanding_) + writes_.size(); }

  // Decides under mu_ what to start next; `lock` is released before returning, so the caller
  // starts it without holding mu_ (and must not touch this stream after starting it).
  Action next_action(std::unique_lock<std::mutex>& lock) {
    Action action;
    if (read_paused_ && (backlog() <= kMaxStreamBacklog / 2 || broken_ || cancelled())) {
      read_paused_ = false;
      action.read = true;
    }
    if (!finished_ && !write_in_flight_) {
      if (!writes_.empty()) {
        write_in_flight_ = true;
        action.write = &writes_.front();  // stays valid: deque::push_back keeps references
      } else if (reads_done_ && outstanding_ == 0) {
        finished_ = true;
        action.finish = true;
        if (broken_ || cancelled()) action.status = grpc::Status::CANCELLED;
      }
    }
    lock.unlock();
    return action;
  }

  // A finish is never combined with a read or a write (it needs both to be over). The read
  // goes last: once started, the stream may end on another thread.
  void act(const Action& action) {
    if (action.write != nullptr) StartWrite(action.write);
    if (action.finish) Finish(action.status);
    if (action.read) StartRead(&request_);
  }

  QueryEngine& engine_;
  grpc::CallbackServerContext* context_;
  v1::QueryRequest request_;  // the read in flight (one at a time); accept() copies what it needs
  std::atomic<bool> cancelled_{false};

  std::mutex mu_;
  std::deque<v1::QueryReply> writes_;  // front() is in flight when write_in_flight_
  int outstanding_ = 0;                // accepted requests not yet answered
  bool write_in_flight_ = false;
  bool read_paused_ = false;  // no read in flight because of the backlog
  bool reads_done_ = false;
  bool broken_ = false;
  bool finished_ = false;
};

class WorkerService final : public v1::Worker::CallbackService {
 public:
  explicit WorkerService(QueryEngine& engine) : engine_(engine) {}

  grpc::ServerUnaryReactor* Query(grpc::CallbackServerContext* context, const v1::QueryRequest* request,
                                  v1::QueryReply* reply) override {
    const Nanos received_ns = now_ns();
    auto* call = new UnaryCall(engine_, context, reply);
    engine_.accept(*request, received_ns, steady_deadline_ns(context->deadline(), received_ns), *call);
    return call;
  }

  grpc::ServerBidiReactor<v1::QueryRequest, v1::QueryReply>* QueryStream(grpc::CallbackServerContext* context) override {
    return new StreamCall(engine_, context);
  }

 private:
  QueryEngine& engine_;
};

// One request that came over WebSocket, waiting for its answer; deletes itself once answered.
// Holds the channel so an answer from an SQL thread can always be handed to its strand (a
// closed channel drops it).
class WsAnswer final : public AnswerSink {
 public:
  WsAnswer(std::shared_ptr<net::WsChannel> channel, const std::string& worker_id)
      : channel_(std::move(channel)), worker_id_(worker_id) {}
  void complete(std::uint64_t request_id, Answer answer) override {
    v1::QueryReply reply;
    fill_reply(reply, request_id, answer, worker_id_);
    channel_->send(reply.SerializeAsString());
    delete this;
  }
  bool cancelled() const noexcept override { return !channel_->open(); }

 private:
  std::shared_ptr<net::WsChannel> channel_;
  const std::string& worker_id_;
};

// The worker's WebSocket front (ws://host:port/query, "/" too): each binary message is one
// serialized QueryRequest, answered by one QueryReply with the same request_id and a status,
// in completion order; many in flight per connection. A text frame or bytes that are not a
// QueryRequest close the connection with 1002.
class WorkerWsFront final : public net::WsHandler {
 public:
  explicit WorkerWsFront(QueryEngine& engine) : engine_(engine) {}
  bool accepts(std::string_view target) const override { return target == "/query" || target == "/"; }
  void on_message(const std::shared_ptr<net::WsChannel>& channel, std::string_view payload, bool binary) override {
    const Nanos received_ns = now_ns();
    if (!binary) return channel->close(net::CloseCode::protocol_error, "binary frames only: a pathbench.v1.QueryRequest");
    v1::QueryRequest request;
    if (!request.ParseFromArray(payload.data(), static_cast<int>(payload.size())))
      return channel->close(net::CloseCode::protocol_error, "not a pathbench.v1.QueryRequest");
    const Nanos deadline_ns = request.timeout_ns() > 0 ? received_ns + request.timeout_ns() : kNoDeadline;
    engine_.accept(request, received_ns, deadline_ns, *new WsAnswer(channel, engine_.id()));
  }

 private:
  QueryEngine& engine_;
};

}  // namespace

struct WorkerServer::Impl {
  explicit Impl(const WorkerOptions& options) : engine(options), service(engine) {
    // Both are process-wide switches that only affect servers built after them.
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();

    grpc::ServerBuilder builder;
    int selected_port = 0;
    builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &selected_port);
    // gRPC sets SO_REUSEPORT by default, which would let a second worker "listen" on a port
    // that is already taken and silently split its traffic; a busy port must be an error.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.SetMaxReceiveMessageSize(static_cast<int>(std::clamp<std::int64_t>(options.max_message_bytes, 0, INT_MAX)));
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    if (!server || selected_port == 0) {
      if (server) server->Shutdown();
      engine.stop();
      throw std::runtime_error(fmt::format("worker {}: cannot listen on {}", options.id, options.listen));
    }
    const auto colon = options.listen.rfind(':');
    address = fmt::format("{}:{}", options.listen.substr(0, colon), selected_port);
    if (auto* health = server->GetHealthCheckService()) {
      health->SetServingStatus("", true);
      health->SetServingStatus(kServiceName, true);
    }
    if (!options.ws_listen.empty()) {
      try {
        net::WsServerOptions ws;
        ws.listen = options.ws_listen;
        ws.thread_name = worker_thread_name(options.id, "ws");
        ws.limits.max_message_bytes = static_cast<std::size_t>(std::max<std::int64_t>(1, options.ws_max_message_bytes));
        ws_server = std::make_unique<net::WsServer>(ws, ws_front);
      } catch (const std::exception& e) {
        server->Shutdown();
        engine.stop();
        throw std::runtime_error(fmt::format("worker {}: {}", options.id, e.what()));
      }
    }
  }

  ~Impl() { drain(2 * kNanosPerSecond); }

  void drain(Nanos grace_ns) {
    std::lock_guard lock(drain_mu);
    if (drained) return;
    drained = true;
    // First, so balancers' health checks stop sending work while what is in flight finishes.
    if (auto* health = server->GetHealthCheckService()) health->SetServingStatus(false);
    const Nanos grace = std::max<Nanos>(0, grace_ns);
    // No grace means the process "died": its WebSocket connections drop without a close.
    if (ws_server && grace == 0) ws_server->abort_all();
    engine.set_hard_stop(now_ns() + grace);
    // Returns once every call has finished: in flight ones get `grace`, then are cancelled.
    // The SQL threads keep running meanwhile, since open streams finish only when their
    // queries are answered.
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::nanoseconds(grace));
    engine.stop();
    // After the engine: every WebSocket answer has been handed to its connection by now, and
    // is written before the close (1001).
    if (ws_server) ws_server->stop();
  }

  // Declaration order is destruction order reversed: the server goes before the service it
  // calls, and both before the engine whose threads they feed (already joined by drain()).
  QueryEngine engine;
  WorkerService service;
  std::unique_ptr<grpc::Server> server;
  WorkerWsFront ws_front{engine};
  std::unique_ptr<net::WsServer> ws_server;  // null without ws_listen
  std::string address;
  std::mutex drain_mu;
  bool drained = false;
};

WorkerServer::WorkerServer(const WorkerOptions& options) : impl_(std::make_unique<Impl>(options)) {}
WorkerServer::~WorkerServer() = default;

std::string WorkerServer::address() const { return impl_->address; }
std::string WorkerServer::ws_address() const { return impl_->ws_server ? impl_->ws_server->address() : std::string(); }
const std::string& WorkerServer::id() const noexcept { return impl_->engine.id(); }
WorkerStats WorkerServer::stats() const { return impl_->engine.stats(); }
void WorkerServer::set_added_delay(Nanos delay_ns) { impl_->engine.set_added_delay(delay_ns); }
void WorkerServer::drain(Nanos grace_ns) { impl_->drain(grace_ns); }

}  // namespace pathbench
