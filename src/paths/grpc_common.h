// Pieces shared by the gRPC paths (grpc_unary, grpc_stream): channels, and where a path's
// channels point. The Query <-> protobuf mapping is wire/query_codec.h.
#pragma once
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "pathbench.grpc.pb.h"
#include "measure/path_client.h"
#include "scenario/scenario.h"
#include "wire/query_codec.h"

namespace pathbench {

class Endpoints;

// A channel of its own (not sharing a TCP connection with other channels to the same target).
std::shared_ptr<grpc::Channel> make_channel(const std::string& address, int index);

// Where a path's clients connect: the balancer, or (direct) the workers, in order.
std::vector<std::string> path_targets(const PathSpec& spec, Endpoints& endpoints);

// Waits (blocking, bounded) until `channel` is connected. Returns "" or the reason.
std::string wait_connected(grpc::Channel& channel, const std::string& address, Nanos timeout_ns);

// The channels one client thread uses: `connections` of them, thread t's channel i going to
// target (t * connections + i) mod n, so threads and channels spread evenly over the targets.
struct ClientChannels {
  ClientChannels(const std::vector<std::string>& targets, int connections, int thread_index);
  // Waits (bounded) until every channel is connected. Returns "" or the reason.
  std::string connect(Nanos timeout_ns);
  std::vector<std::pair<std::string, std::shared_ptr<grpc::Channel>>> channels;
  std::vector<std::unique_ptr<v1::Worker::Stub>> stubs;
};

// A gRPC path's PathInstance: the targets from the endpoints, a Client per client thread,
// constructed as Client(io, sink, scenario, spec, targets, thread_index).
template <class Client>
class GrpcPathInstance final : public PathInstance {
 public:
  GrpcPathInstance(const Scenario& scenario, const PathSpec& spec, std::vector<std::string> targets,
                   std::string scheme)
      : scenario_(scenario), spec_(spec), targets_(std::move(targets)), scheme_(std::move(scheme)) {}
  std::unique_ptr<PathClient> make_client(boost::asio::io_context& io, CompletionSink& sink, int thread_index) override {
    return std::make_unique<Client>(io, sink, scenario_, spec_, targets_, thread_index);
  }
  std::string endpoint() const override {
    std::string joined;
    for (auto& t : targets_) joined += (joined.empty() ? "" : ",") + t;
    return scheme_ + "://" + joined;
  }

 private:
  const Scenario& scenario_;
  const PathSpec& spec_;
  std::vector<std::string> targets_;
  std::string scheme_;
};

}  // namespace pathbench
