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
      : io_(io), sink_(sink), deadline_ns_(scenario.load.deadline_ns) {
    for (int i = 0; i < spec.connections; ++i) {
      // Thread t's channel i goes to target (t * connections + i) mod n: spread evenly.
      std::size_t target = static_cast<std::size_t>(thread_index * spec.connections + i) % targets.size();
      channels_.push_back({targets[target], make_channel(targets[target], thread_index * 1000 + i)});
      stubs_.push_back(v1::Worker::NewStub(channels_.back().second));
    }
  }

  ~GrpcUnaryClient() override {
    // gRPC may still call back into us: wait for every outstanding call to end (each has a
    // deadline, and stop() cancelled them, so this is short).
    while (outstanding_.load(std::memory_order_acquire) > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  void start(std::function<void(std::string)> done) override {
    for (auto& [address, channel] : channels_) {
      if (auto error = wait_connected(*channel, address, deadline_ns_); !error.empty()) return done(error);
    }
    done("");
  }

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
    auto& stub = stubs_[next_++ % stubs_.size()];
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
  std::vector<std::pair<std::string, std::shared_ptr<grpc::Channel>>> channels_;
  std::vector<std::unique_ptr<v1::Worker::Stub>> stubs_;
  std::vector<std::unique_ptr<UnaryCall>> calls_;
  std::vector<UnaryCall*> free_;
  std::size_t next_ = 0;
  std::atomic<int> outstanding_{0};  // calls gRPC has not called back for yet
};

class GrpcUnaryInstance final : public PathInstance {
 public:
  GrpcUnaryInstance(const Scenario& scenario, const PathSpec& spec, std::vector<std::string> targets)
      : scenario_(scenario), spec_(spec), targets_(std::move(targets)) {}
  std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, int thread_index) override {
    return std::make_unique<GrpcUnaryClient>(io, sink, scenario_, spec_, targets_, thread_index);
  }
  std::string endpoint() const override { return fmt::format("grpc://{}", fmt::join(targets_, ",")); }

 private:
  const Scenario& scenario_;
  const PathSpec& spec_;
  std::vector<std::string> targets_;
};

}  // namespace

std::unique_ptr<PathInstance> create_grpc_unary(const Scenario& scenario, const PathSpec& spec, Topology& topology) {
  return std::make_unique<GrpcUnaryInstance>(scenario, spec, path_targets(spec, topology));
}

}  // namespace pathbench
