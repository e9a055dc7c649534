#include "paths/grpc_unary.h"

#include <fmt/format.h>

#include <boost/asio/post.hpp>
#include <atomic>
#include <optional>
#include <thread>

#include "pathbench.grpc.pb.h"
#include "paths/grpc_common.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

// One call's state. Pooled and reused (a ClientContext itself cannot be reused, so it is
// re-emplaced), so steady state allocates nothing of ours per request.
struct UnaryCall {
  std::optional<grpc::ClientContext> context;
  v1::QueryRequest request;
  v1::QueryReply reply;
  grpc::Status status;
  std::uint32_t slot = 0;
  std::uint64_t id = 0;
  bool in_use = false;
};

class GrpcUnaryClient final : public PathClient {
 public:
  GrpcUnaryClient(asio::io_context& io, CompletionSink& sink, const Scenario& scenario, const PathSpec& spec,
                  const std::vector<std::string>& targets, int thread_index)
      : io_(io), sink_(sink), deadline_ns_(scenario.load.deadline_ns),
        channels_(targets, spec.connections, thread_index) {}

  ~GrpcUnaryClient() override {
    // gRPC may still call back into us: wait for every outstanding call to end (each has a
    // deadline, and stop() cancelled them, so this is short).
    while (outstanding_.load(std::memory_order_acquire) > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
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
    outstanding_.fetch_add(1, std::memory_order_relaxed);
    auto& stub = channels_.stubs[next_++ % channels_.stubs.size()];
    stub->async()->Query(&*call->context, &call->request, &call->reply, [this, call](grpc::Status status) {
      call->status = std::move(status);
      // Back to the client thread: the load generator is single-threaded per client thread.
      asio::post(io_, [this, call] { on_done(call); });
      outstanding_.fetch_sub(1, std::memory_order_release);
    });
  }

  void stop() override {
    for (auto& call : calls_)
      if (call->in_use && call->context) call->context->TryCancel();
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
    Outcome outcome = outcome_from_status(call->status.error_code());
    if (outcome == Outcome::ok) {
      Hops hops = hops_from(call->reply);
      sink_.complete(call->slot, call->id, outcome, &hops);
    } else {
      sink_.complete(call->slot, call->id, outcome);
    }
    call->context.reset();
    call->in_use = false;
    free_.push_back(call);
  }

  asio::io_context& io_;
  CompletionSink& sink_;
  Nanos deadline_ns_;
  ClientChannels channels_;
  std::vector<std::unique_ptr<UnaryCall>> calls_;
  std::vector<UnaryCall*> free_;
  std::size_t next_ = 0;
  std::atomic<int> outstanding_{0};  // calls gRPC has not called back for yet
};

}  // namespace

std::unique_ptr<PathInstance> create_grpc_unary(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  return std::make_unique<GrpcPathInstance<GrpcUnaryClient>>(scenario, spec, path_targets(spec, endpoints), "grpc");
}

}  // namespace pathbench
