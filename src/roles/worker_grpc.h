// The worker's gRPC front: service pathbench.v1.Worker (unary Query, bidirectional QueryStream)
// over a QueryEngine, on gRPC's callback threads. Statuses and stream flow control as described
// in roles/worker.h; served by net::GrpcServer with health and reflection.
#pragma once
#include <grpcpp/impl/service_type.h>

#include <memory>
#include <optional>

#include "db/catalog.h"

namespace pathbench {

class QueryEngine;
class TaskEngine;

// The name the service is registered and health-checked under.
inline constexpr const char* kWorkerServiceName = "pathbench.v1.Worker";

// `engine` must outlive the service, and the service the server it is registered with. `shape`
// answers Shape (none: a worker without a database, FAILED_PRECONDITION). `tasks` (optional, same
// lifetime rule) serves the Task RPC; without it Task is UNIMPLEMENTED.
std::unique_ptr<grpc::Service> make_worker_service(QueryEngine& engine, std::optional<DatasetShape> shape,
                                                   TaskEngine* tasks = nullptr);

}  // namespace pathbench
