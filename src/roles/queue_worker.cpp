#include "roles/queue_worker.h"

#include <fmt/format.h>

#include <stdexcept>

#include "db/executor.h"
#include "pathbench.pb.h"
#include "wire/query_codec.h"

namespace pathbench {

namespace {

// gRPC status code numbers, as every front carries them in QueryReply.status.
constexpr int kInvalidArgument = 3, kDeadlineExceeded = 4, kInternal = 13, kFailedPrecondition = 9;

// One consumer thread's handler: owns its executor (opened on the constructing thread, so a
// bad database fails the QueueWorker's constructor instead of a consumer thread).
class QueryHandler {
 public:
  QueryHandler(std::shared_ptr<QueryExecutor> executor, std::string worker_id)
      : executor_(std::move(executor)), worker_id_(std::move(worker_id)) {}

  std::string operator()(std::string_view body) {
    const Nanos received_ns = now_ns();
    v1::QueryReply reply;
    reply.set_worker_id(worker_id_);
    if (!request_.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      return fail(reply, kInvalidArgument, "not a pathbench.v1.QueryRequest", received_ns);
    }
    reply.set_request_id(request_.request_id());
    // Time in the broker, when the client's clock is ours (same host) and the value is sane.
    const Nanos sent_ns = request_.sent_ns();
    const Nanos waited_ns = sent_ns > 0 && received_ns >= sent_ns ? received_ns - sent_ns : 0;
    reply.set_worker_queue_ns(waited_ns);
    Nanos deadline_ns = kNoDeadline;
    if (request_.timeout_ns() > 0 && sent_ns > 0) deadline_ns = sent_ns + request_.timeout_ns();
    if (received_ns > deadline_ns)
      return fail(reply, kDeadlineExceeded, fmt::format("deadline passed after {} us in the broker", waited_ns / 1000),
                  received_ns);
    Query query;
    std::string bad_field;
    if (!from_proto(request_, query, bad_field))
      return fail(reply, kInvalidArgument,
                  invalid_argument_message(bad_field, fmt::format("unknown query kind {}", static_cast<int>(request_.kind()))),
                  received_ns);
    if (query.kind != QueryKind::echo) {
      if (!executor_) return fail(reply, kFailedPrecondition, "worker has no database: only echo queries", received_ns);
      QueryOutcome outcome = executor_->run(query, deadline_ns);
      reply.set_worker_sql_ns(outcome.sql_ns);
      switch (outcome.status) {
        case QueryStatus::ok:
          reply.set_count(outcome.result.count);
          reply.set_sum_cents(outcome.result.sum_cents);
          break;
        case QueryStatus::invalid_argument:
          return fail(reply, kInvalidArgument, invalid_argument_message(outcome.error_field, outcome.error_message),
                      received_ns);
        case QueryStatus::deadline_exceeded:
          return fail(reply, kDeadlineExceeded, "deadline exceeded while the query ran", received_ns);
        case QueryStatus::error:
          return fail(reply, kInternal, outcome.error_message.empty() ? "SQL error" : outcome.error_message, received_ns);
      }
    }
    reply.set_worker_total_ns(waited_ns + (now_ns() - received_ns));
    return reply.SerializeAsString();
  }

 private:
  std::string fail(v1::QueryReply& reply, int code, std::string message, Nanos received_ns) {
    reply.mutable_status()->set_code(code);
    reply.mutable_status()->set_message(std::move(message));
    reply.set_worker_total_ns(reply.worker_queue_ns() + (now_ns() - received_ns));
    return reply.SerializeAsString();
  }

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
