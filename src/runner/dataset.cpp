#include "runner/dataset.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <stdexcept>

#include "net/grpc_credentials.h"
#include "net/tls_policy.h"
#include "pathbench.grpc.pb.h"

namespace pathbench {

bool path_uses_local_workers(const Scenario& scenario, const PathSpec& spec) {
  if (spec.via == "balancer" && !scenario.balancer.endpoint.empty()) return false;
  return scenario.workers.endpoints.empty();
}

DatasetShape fetch_dataset_shape(const std::string& address, Nanos timeout_ns) {
  auto channel = net::make_grpc_channel(address, net::client_tls().get());
  auto stub = v1::Worker::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::nanoseconds(timeout_ns));
  context.set_wait_for_ready(true);  // a worker that is still starting gets the whole timeout
  v1::ShapeRequest request;
  v1::DatasetShape reply;
  grpc::Status status = stub->Shape(&context, request, &reply);
  if (!status.ok())
    throw std::runtime_error(fmt::format("cannot learn the dataset from the worker at {} (Worker.Shape): {}", address,
                                         status.error_message()));
  if (reply.sales() < 1 || reply.categories() < 1 || reply.last_sale_epoch_s() < reply.first_sale_epoch_s())
    throw std::runtime_error(fmt::format("the worker at {} reports an empty or inconsistent dataset ({} sales, {} categories)",
                                         address, reply.sales(), reply.categories()));
  DatasetShape shape;
  shape.sales = reply.sales();
  shape.categories = reply.categories();
  shape.first_sale_epoch_s = reply.first_sale_epoch_s();
  shape.last_sale_epoch_s = reply.last_sale_epoch_s();
  shape.seed = reply.seed();
  return shape;
}

const DatasetShape* RunDataset::shape_for(const PathSpec& spec, bool carries_queries) {
  if (!carries_queries || (scenario_.query.point_weight <= 0 && scenario_.query.heavy_weight <= 0)) return nullptr;
  if (path_uses_local_workers(scenario_, spec)) {
    if (!local_) local_ = read_dataset_shape(scenario_.database.path);
    return &*local_;
  }
  const std::string& address = spec.via == "balancer" && !scenario_.balancer.endpoint.empty()
                                   ? scenario_.balancer.endpoint
                                   : scenario_.workers.endpoints.front();
  auto found = external_.find(address);
  if (found == external_.end())
    found = external_.emplace(address, fetch_dataset_shape(address, 5 * kNanosPerSecond)).first;
  return &found->second;
}

}  // namespace pathbench
