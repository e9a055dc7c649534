#include "roles/queue_worker.h"

#include <fmt/format.h>

#include <stdexcept>

#include "db/executor.h"
#include "pathbench.pb.h"
#include "roles/query_engine.h"

namespace pathbench {

namespace {

// One consumer thread's handler: owns its executor (opened on the constructing thread, so a
// bad database fails the QueueWorker's constructor instead of a consumer thread). Answers with
// the worker's one answer (roles/query_engine.h), so a queue worker replies as a gRPC worker does.
class QueryHandler {
 public:
  QueryHandler(std::shared_ptr<QueryExecutor> executor, std::string worker_id)
      : executor_(std::move(executor)), worker_id_(std::move(worker_id)) {}

  std::string operator()(std::string_view body) {
    const Nanos received_ns = now_ns();
    Answer answer;
    std::uint64_t request_id = 0;
    if (!request_.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      answer.code = grpc::StatusCode::INVALID_ARGUMENT;
      answer.message = "not a pathbench.v1.QueryRequest";
    } else {
      request_id = request_.request_id();
      // Time in the broker, when the client's clock is ours (same host) and the value is sane.
      const Nanos sent_ns = request_.sent_ns();
      answer.queue_ns = sent_ns > 0 && received_ns >= sent_ns ? received_ns - sent_ns : 0;
      Nanos deadline_ns = kNoDeadline;
      if (request_.timeout_ns() > 0 && sent_ns > 0) deadline_ns = sent_ns + request_.timeout_ns();
      if (received_ns > deadline_ns) {
        answer.code = grpc::StatusCode::DEADLINE_EXCEEDED;
        answer.message = fmt::format("deadline passed after {} us in the broker", answer.queue_ns / 1000);
      } else if (Query query; decode_request(request_, query, answer)) {
        run_query(query, executor_.get(), deadline_ns, kNoDeadline, worker_id_, answer);
      }
    }
    answer.total_ns = answer.queue_ns + (now_ns() - received_ns);
    v1::QueryReply reply;
    fill_reply(reply, request_id, answer, worker_id_);
    return reply.SerializeAsString();
  }

 private:
  std::shared_ptr<QueryExecutor> executor_;
  std::string worker_id_;
  v1::QueryRequest request_;  // reused between messages of this thread
};

}  // namespace

struct QueueWorker::Impl {
  explicit Impl(const QueueWorkerOptions& o) : options(o) {
    const int threads = std::max(1, o.threads);
    for (int i = 0; i < threads; ++i) {
      try {
        executors.push_back(o.db_path.empty() ? nullptr : std::make_shared<QueryExecutor>(o.db_path));
      } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("queue worker {}: {}", o.id, e.what()));
      }
    }
    responder = mq::make_responder(
        o.endpoint, threads,
        [this](int index) -> mq::Responder::Handler {
          auto handler = std::make_shared<QueryHandler>(executors[static_cast<std::size_t>(index) % executors.size()],
                                                        options.id);
          return [handler](std::string_view body) { return (*handler)(body); };
        },
        o.id);
  }
  QueueWorkerOptions options;
  std::vector<std::shared_ptr<QueryExecutor>> executors;  // [i] used only by consumer thread i
  std::unique_ptr<mq::Responder> responder;                // last: stopped before the executors go
};

QueueWorker::QueueWorker(const QueueWorkerOptions& options) : impl_(std::make_unique<Impl>(options)) {}
QueueWorker::~QueueWorker() {
  if (impl_ && impl_->responder) impl_->responder->stop();
}
const std::string& QueueWorker::id() const noexcept { return impl_->options.id; }
void QueueWorker::pause(bool paused) { impl_->responder->pause(paused); }
mq::Responder::Stats QueueWorker::stats() const { return impl_->responder->stats(); }

}  // namespace pathbench
