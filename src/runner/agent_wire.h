// What crosses the load agents' control channel (proto/agent.proto), and the Endpoints pair that
// lets an agent reach the servers the coordinator resolved: the coordinator creates each path
// through a RecordingEndpoints (forwarding to its Topology, remembering every answer), the agent
// creates the same path through a ReplayEndpoints of those answers (paths/endpoints.h).
// Conversions are exact: histograms travel as Histogram::encode() bytes.
#pragma once
#include <string>
#include <vector>

#include "measure/interval.h"
#include "measure/load_generator.h"
#include "paths/endpoints.h"

#include "agent.pb.h"

namespace pathbench {

class RecordingEndpoints final : public Endpoints {
 public:
  explicit RecordingEndpoints(Endpoints& inner) : inner_(inner) {}
  const std::vector<std::string>& worker_addresses() override;
  const std::string& balancer_address() override;
  const std::vector<std::string>& worker_ws_addresses() override;
  const std::string& balancer_ws_address() override;
  mq::Endpoint queue_endpoint(const std::string& kind) override;
  // Forwarded, not recorded: the replay refuses the task path's queue route.
  mq::Endpoint task_queue_endpoint(const std::string& kind) override { return inner_.task_queue_endpoint(kind); }
  // Forwarded, and remembered as not replayable: an agent cannot reach the in-process broker.
  broker::BrokerServer& broker_server() override;
  mq::Endpoint broker_endpoint(const std::string& kind) override;  // recorded as queue_endpoint's
  void attach_worker_faults(WorkerFaultTarget& target) override;    // forwarded
  void detach_worker_faults(WorkerFaultTarget& target) override;
  const v1::ResolvedEndpoints& recorded() const noexcept { return recorded_; }
  bool asked_for_local_broker() const noexcept { return asked_for_local_broker_; }

 private:
  mq::Endpoint record_queue(const std::string& kind, mq::Endpoint e);
  Endpoints& inner_;
  v1::ResolvedEndpoints recorded_;
  bool asked_for_local_broker_ = false;
};

// Answers what the coordinator recorded; anything it did not record throws std::runtime_error.
class ReplayEndpoints final : public Endpoints {
 public:
  explicit ReplayEndpoints(v1::ResolvedEndpoints recorded);
  const std::vector<std::string>& worker_addresses() override;
  const std::string& balancer_address() override;
  const std::vector<std::string>& worker_ws_addresses() override;
  const std::string& balancer_ws_address() override;
  mq::Endpoint queue_endpoint(const std::string& kind) override;
  // Throws: the task path's queue route runs on the coordinator's machine only.
  mq::Endpoint task_queue_endpoint(const std::string& kind) override;
  broker::BrokerServer& broker_server() override;
  mq::Endpoint broker_endpoint(const std::string& kind) override;
  void attach_worker_faults(WorkerFaultTarget& target) override;  // no faults on an agent
  void detach_worker_faults(WorkerFaultTarget& target) override;

 private:
  v1::ResolvedEndpoints recorded_;
  std::vector<std::string> workers_, worker_ws_;
};

void to_proto(const PhaseStats& stats, v1::PhaseResult& out);
// False when the message is not an exact encoding (a histogram that does not decode, a wrong count).
bool from_proto(const v1::PhaseResult& in, PhaseStats& out);

// The agent's result (its phases, counters and timing; intervals travel as Seconds).
void to_proto(const PathRunResult& run, v1::Result& out);
// Fills `out`'s phases (parallel to out.plan, which the caller set) and counters. False (with
// `why`) when the message does not fit the plan or does not decode.
bool from_proto(const v1::Result& in, PathRunResult& out, std::string& why);

void to_proto(std::int64_t second, const IntervalBucket& bucket, std::int64_t in_flight, v1::Second& out);
bool from_proto(const v1::Second& in, IntervalBucket& out);

void to_proto(const DatasetShape& shape, v1::DatasetShape& out);
DatasetShape from_proto(const v1::DatasetShape& in);

}  // namespace pathbench
