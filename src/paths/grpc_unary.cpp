#include "paths/grpc_unary.h"

#include <fmt/format.h>

#include <grpc/support/time.h>

#include <optional>

#include "pathbench.grpc.pb.h"
#include "paths/grpc_common.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

// One call's state. Pooled and reused (a ClientContext itself cannot be reused, so it is
// re-emplaced), so steady state allocates nothing of ours per request; its address is the
// call's completion-queue tag.
struct UnaryCall {
  std::optional<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::QueryReply>> reader;  // in the call's arena
  v1::QueryRequest request;
  v1::QueryReply reply;
  grpc::Status status;
  std::uint32_t slot = 0;
  std::uint64_t id = 0;
  bool in_use = false;
};

// The completion-queue API, driven by the client thread itself (PathClient::polled): the
// thread that polls the queue does the calls' network I/O and reports their completions, so
// no gRPC callback thread and no hand-off to the client thread sit between a reply and its
// timestamp.
class GrpcUnaryClient final : public PathClient {
 public:
  GrpcUnaryClient(asio::io_context&, CompletionSink& sink, const Scenario& scenario, const PathSpec& spec,
                  const std::vector<std::string>& targets, int thread_index)
      : sink_(sink), deadline_ns_(scenario.load.deadline_ns), channels_(targets, spec.connections, thread_index) {}

  ~GrpcUnaryClient() override {
    // Every call ends (cancelled, or at its deadline) before the queue may shut down.
    stop();
    while (pending_ > 0) poll(now_ns() + 10 * kNanosPerMilli);
    cq_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  void start(std::function<void(std::string)> done) override { done(channels_.connect(deadline_ns_)); }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query& query) override {
    UnaryCall* call = acquire();
    call->slot = slot;
    call->id = request_id;
    call->context.emplace();
    call->context->set_deadline(std::chrono::system_clock::now() + std::chrono::nanoseconds(deadline_ns_));
    to_proto(query, 0, call->request);
    call->request.set_request_id(request_id);
    call->reply.Clear();
    ++pending_;
    auto& stub = channels_.stubs[next_++ % channels_.stubs.size()];
    call->reader = stub->AsyncQuery(&*call->context, call->request, &cq_);
    call->reader->Finish(&call->reply, &call->status, call);
  }

  void stop() override {
    for (auto& call : calls_)
      if (call->in_use && call->context) call->context->TryCancel();
  }

  bool polled() const noexcept override { return true; }

  bool poll(Nanos until_ns) override {
    if (pending_ == 0) return false;
    const Nanos wait_ns = until_ns - now_ns();
    gpr_timespec deadline = wait_ns <= 0 ? gpr_inf_past(GPR_CLOCK_MONOTONIC)
                                         : gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                                        gpr_time_from_nanos(wait_ns, GPR_TIMESPAN));
    void* tag = nullptr;
    bool ok = false;
    while (cq_.AsyncNext(&tag, &ok, deadline) == grpc::CompletionQueue::GOT_EVENT) {
      on_done(static_cast<UnaryCall*>(tag));
      if (pending_ == 0) break;
      deadline = gpr_inf_past(GPR_CLOCK_MONOTONIC);  // take what else is ready, then return
    }
    return pending_ > 0;
  }

 private:
  UnaryCall* acquire() {
    if (free_.empty()) {
      calls_.push_back(std::make_unique<UnaryCall>());
      free_.push_back(calls_.back().get());
    }
    UnaryCall* call = free_.back();
    free_.pop_back();
    call->in_use = true;
    return call;
  }

  void on_done(UnaryCall* call) {
    --pending_;
    const std::uint32_t slot = call->slot;
    const std::uint64_t id = call->id;
    Outcome outcome = outcome_from_status(call->status.error_code());
    Hops hops;
    if (outcome == Outcome::ok) hops = hops_from(call->reply);
    call->reader.reset();
    call->context.reset();
    call->in_use = false;
    free_.push_back(call);
    // Last: complete() may issue the next request on this very call.
    sink_.complete(slot, id, outcome, outcome == Outcome::ok ? &hops : nullptr);
  }

  CompletionSink& sink_;
  Nanos deadline_ns_;
  ClientChannels channels_;
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<UnaryCall>> calls_;
  std::vector<UnaryCall*> free_;
  std::size_t next_ = 0;
  int pending_ = 0;  // calls whose completion has not been taken from cq_ yet
};

}  // namespace

std::unique_ptr<PathInstance> create_grpc_unary(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  return std::make_unique<GrpcPathInstance<GrpcUnaryClient>>(scenario, spec, path_targets(spec, endpoints), "grpc");
}

}  // namespace pathbench
