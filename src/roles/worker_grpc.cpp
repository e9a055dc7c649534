#include "roles/worker_grpc.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <deque>
#include <mutex>

#include "pathbench.grpc.pb.h"
#include "roles/query_engine.h"
#include "roles/task_engine.h"

namespace pathbench {
namespace {

// A stream stops reading while this many of its requests are unanswered or answers unwritten,
// and resumes at half of it: a client that sends faster than it reads is slowed by HTTP/2 flow
// control instead of growing the worker's memory without bound.
constexpr std::size_t kMaxStreamBacklog = 1024;

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
  WorkerService(QueryEngine& engine, std::optional<DatasetShape> shape, TaskEngine* tasks)
      : engine_(engine), shape_(std::move(shape)), tasks_(tasks) {}

  grpc::ServerUnaryReactor* Shape(grpc::CallbackServerContext* context, const v1::ShapeRequest*,
                                  v1::DatasetShape* reply) override {
    auto* reactor = context->DefaultReactor();
    if (!shape_) {
      reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "this worker has no database"));
      return reactor;
    }
    reply->set_sales(shape_->sales);
    reply->set_categories(shape_->categories);
    reply->set_first_sale_epoch_s(shape_->first_sale_epoch_s);
    reply->set_last_sale_epoch_s(shape_->last_sale_epoch_s);
    reply->set_seed(shape_->seed);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

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

  grpc::ServerUnaryReactor* Task(grpc::CallbackServerContext* context, const v1::TaskRequest* request,
                                 v1::TaskReply* reply) override {
    if (tasks_ != nullptr) return tasks_->serve(context, request, reply);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this worker serves no tasks"));
    return reactor;
  }

 private:
  QueryEngine& engine_;
  const std::optional<DatasetShape> shape_;
  TaskEngine* tasks_;
};

}  // namespace

std::unique_ptr<grpc::Service> make_worker_service(QueryEngine& engine, std::optional<DatasetShape> shape, TaskEngine* tasks) {
  return std::make_unique<WorkerService>(engine, std::move(shape), tasks);
}

}  // namespace pathbench
