#include "roles/task_queue_worker.h"

#include "pathbench.pb.h"

namespace pathbench {

namespace {

// One consumer thread's handler: its own store and executor, its messages reused.
class TaskHandler {
 public:
  explicit TaskHandler(TaskEngine& engine) : engine_(engine) {}

  std::string operator()(std::string_view body) {
    const Nanos received_ns = now_ns();
    reply_.Clear();
    grpc::Status status;
    if (!request_.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "not a pathbench.v1.TaskRequest");
    } else {
      status = engine_.run_here(request_, reply_, received_ns, state_);
      reply_.set_request_id(request_.request_id());
      reply_.set_task_id(request_.task_id());
    }
    if (!status.ok()) {
      reply_.mutable_status()->set_code(static_cast<int>(status.error_code()));
      reply_.mutable_status()->set_message(status.error_message());
    }
    return reply_.SerializeAsString();
  }

 private:
  TaskEngine& engine_;
  TaskEngine::ThreadState state_;
  v1::TaskRequest request_;
  v1::TaskReply reply_;
};

}  // namespace

std::string task_queue_name(const std::string& request_queue) { return request_queue + ".tasks"; }

struct TaskQueueWorker::Impl {
  Impl(const WorkerOptions& worker, const mq::Endpoint& endpoint, int consumers) : options(worker), engine(worker) {
    responder = mq::make_responder(
        endpoint, std::max(1, consumers),
        [this](int) -> mq::Responder::Handler {
          auto handler = std::make_shared<TaskHandler>(engine);
          return [handler](std::string_view body) { return (*handler)(body); };
        },
        worker.id);
  }
  WorkerOptions options;
  TaskEngine engine;
  std::unique_ptr<mq::Responder> responder;  // last: stopped before the engine goes
};

TaskQueueWorker::TaskQueueWorker(const WorkerOptions& worker, const mq::Endpoint& endpoint, int consumers)
    : impl_(std::make_unique<Impl>(worker, endpoint, consumers)) {}

TaskQueueWorker::~TaskQueueWorker() {
  if (impl_ && impl_->responder) impl_->responder->stop();
}

const std::string& TaskQueueWorker::id() const noexcept { return impl_->options.id; }

void TaskQueueWorker::kill() {
  impl_->engine.set_hard_stop(now_ns());
  impl_->responder->stop();
}

TaskEngineStats TaskQueueWorker::task_stats() const { return impl_->engine.stats(); }
mq::Responder::Stats TaskQueueWorker::stats() const { return impl_->responder->stats(); }

}  // namespace pathbench
