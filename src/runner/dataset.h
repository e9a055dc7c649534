// Where a run's query parameters come from. Paths that reach in-process workers (spawned by the
// Topology) use the local database file, seeded by ensure_database() when missing. A path whose
// workers are all elsewhere ([workers] endpoints, or an external [balancer]) needs no local copy:
// nothing is seeded here, and the worker (or the balancer, which asks a worker) tells its dataset
// over gRPC (Worker.Shape), so the generator draws parameters from the data the workers really
// serve.
#pragma once
#include <map>
#include <optional>
#include <string>

#include "core/clock.h"
#include "db/catalog.h"
#include "scenario/scenario.h"

namespace pathbench {

// Whether `spec` is served by workers this process spawns (and so by the local database file).
bool path_uses_local_workers(const Scenario& scenario, const PathSpec& spec);

// Asks the Worker service at `address` (a worker or a balancer) for its dataset. Throws
// std::runtime_error naming the address and gRPC's reason.
DatasetShape fetch_dataset_shape(const std::string& address, Nanos timeout_ns);

// The run's shapes, found once: the local file's, or each external address's.
class RunDataset {
 public:
  explicit RunDataset(const Scenario& scenario) : scenario_(scenario) {}
  // What a path's point and heavy queries draw from; null when its mix has none (or it carries
  // no queries). Throws when it cannot be learnt (the path fails with the reason).
  const DatasetShape* shape_for(const PathSpec& spec, bool carries_queries);

 private:
  const Scenario& scenario_;
  std::optional<DatasetShape> local_;
  std::map<std::string, DatasetShape> external_;
};

}  // namespace pathbench
