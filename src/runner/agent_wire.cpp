#include "runner/agent_wire.h"

#include <fmt/format.h>

#include <stdexcept>

namespace pathbench {

// ---- Endpoints ---------------------------------------------------------------------------------

const std::vector<std::string>& RecordingEndpoints::worker_addresses() {
  const auto& answer = inner_.worker_addresses();
  recorded_.set_has_workers(true);
  recorded_.clear_worker_addresses();
  for (auto& a : answer) recorded_.add_worker_addresses(a);
  return answer;
}

const std::string& RecordingEndpoints::balancer_address() {
  const auto& answer = inner_.balancer_address();
  recorded_.set_has_balancer(true);
  recorded_.set_balancer_address(answer);
  return answer;
}

const std::vector<std::string>& RecordingEndpoints::worker_ws_addresses() {
  const auto& answer = inner_.worker_ws_addresses();
  recorded_.set_has_worker_ws(true);
  recorded_.clear_worker_ws_addresses();
  for (auto& a : answer) recorded_.add_worker_ws_addresses(a);
  return answer;
}

const std::string& RecordingEndpoints::balancer_ws_address() {
  const auto& answer = inner_.balancer_ws_address();
  recorded_.set_has_balancer_ws(true);
  recorded_.set_balancer_ws_address(answer);
  return answer;
}

mq::Endpoint RecordingEndpoints::queue_endpoint(const std::string& kind) { return record_queue(kind, inner_.queue_endpoint(kind)); }
mq::Endpoint RecordingEndpoints::broker_endpoint(const std::string& kind) { return record_queue(kind, inner_.broker_endpoint(kind)); }
void RecordingEndpoints::attach_worker_faults(WorkerFaultTarget& target) { inner_.attach_worker_faults(target); }
void RecordingEndpoints::detach_worker_faults(WorkerFaultTarget& target) { inner_.detach_worker_faults(target); }

mq::Endpoint RecordingEndpoints::record_queue(const std::string& kind, mq::Endpoint e) {
  v1::QueueEndpoint* q = recorded_.add_queues();
  q->set_asked_kind(kind);
  q->set_kind(e.kind);
  q->set_url(e.url);
  q->set_request_queue(e.request_queue);
  q->set_max_pending(e.max_pending);
  q->set_prefetch(e.prefetch);
  q->set_timeout_ns(e.timeout_ns);
  q->set_heartbeat_ns(e.heartbeat_ns);
  q->set_direct_reply_to(e.direct_reply_to);
  return e;
}

broker::BrokerServer& RecordingEndpoints::broker_server() {
  asked_for_local_broker_ = true;
  return inner_.broker_server();
}

ReplayEndpoints::ReplayEndpoints(v1::ResolvedEndpoints recorded) : recorded_(std::move(recorded)) {
  workers_.assign(recorded_.worker_addresses().begin(), recorded_.worker_addresses().end());
  worker_ws_.assign(recorded_.worker_ws_addresses().begin(), recorded_.worker_ws_addresses().end());
}

namespace {
[[noreturn]] void not_recorded(std::string_view what) {
  throw std::runtime_error(fmt::format("the coordinator did not resolve {} for this path", what));
}
}  // namespace

const std::vector<std::string>& ReplayEndpoints::worker_addresses() {
  if (!recorded_.has_workers()) not_recorded("the workers' addresses");
  return workers_;
}

const std::string& ReplayEndpoints::balancer_address() {
  if (!recorded_.has_balancer()) not_recorded("the balancer's address");
  return recorded_.balancer_address();
}

const std::vector<std::string>& ReplayEndpoints::worker_ws_addresses() {
  if (!recorded_.has_worker_ws()) not_recorded("the workers' WebSocket addresses");
  return worker_ws_;
}

const std::string& ReplayEndpoints::balancer_ws_address() {
  if (!recorded_.has_balancer_ws()) not_recorded("the balancer's WebSocket address");
  return recorded_.balancer_ws_address();
}

mq::Endpoint ReplayEndpoints::task_queue_endpoint(const std::string&) {
  throw std::runtime_error("the task path's queue route does not run on load agents (not recorded by the coordinator)");
}

mq::Endpoint ReplayEndpoints::queue_endpoint(const std::string& kind) {
  for (auto& q : recorded_.queues()) {
    if (q.asked_kind() != kind) continue;
    mq::Endpoint e;
    e.kind = q.kind();
    e.url = q.url();
    e.request_queue = q.request_queue();
    e.max_pending = q.max_pending();
    e.prefetch = q.prefetch();
    e.timeout_ns = q.timeout_ns();
    e.heartbeat_ns = q.heartbeat_ns();
    e.direct_reply_to = q.direct_reply_to();
    return e;
  }
  not_recorded(fmt::format("a {} broker", kind));
}

// An agent runs publishers only: the same broker record, and no faults to receive.
mq::Endpoint ReplayEndpoints::broker_endpoint(const std::string& kind) { return queue_endpoint(kind); }
void ReplayEndpoints::attach_worker_faults(WorkerFaultTarget&) {}
void ReplayEndpoints::detach_worker_faults(WorkerFaultTarget&) {}

broker::BrokerServer& ReplayEndpoints::broker_server() {
  throw std::runtime_error("a load agent cannot reach the coordinator's in-process broker");
}

// ---- results -----------------------------------------------------------------------------------

namespace {

// The order PhaseResult.histograms lists them in (proto/agent.proto).
constexpr Histogram PhaseStats::*kPhaseHistograms[] = {
    &PhaseStats::latency,          &PhaseStats::uncorrected,  &PhaseStats::lag,
    &PhaseStats::wakeup_lag,       &PhaseStats::hop_client_network, &PhaseStats::hop_balancer,
    &PhaseStats::hop_worker_queue, &PhaseStats::hop_worker_sql, &PhaseStats::hop_worker_other,
};

template <class Repeated>
bool outcomes_from(const Repeated& in, std::array<std::int64_t, kOutcomeCount>& out) {
  if (static_cast<std::size_t>(in.size()) != kOutcomeCount) return false;
  for (std::size_t i = 0; i < kOutcomeCount; ++i) {
    if (in[static_cast<int>(i)] < 0) return false;
    out[i] = in[static_cast<int>(i)];
  }
  return true;
}

bool decode_into(const std::string& bytes, Histogram& into) {
  auto h = Histogram::decode(bytes);
  if (!h || h->highest_trackable() != into.highest_trackable() || h->significant_digits() != into.significant_digits())
    return false;
  into = std::move(*h);
  return true;
}

}  // namespace

void to_proto(const PhaseStats& stats, v1::PhaseResult& out) {
  for (auto member : kPhaseHistograms) out.add_histograms((stats.*member).encode());
  out.set_hops_recorded(stats.hops_recorded);
  for (auto n : stats.outcomes) out.add_outcomes(n);
  out.set_issued(stats.issued);
  out.set_sent_on_time(stats.sent_on_time);
  out.set_unsent(stats.unsent);
}

bool from_proto(const v1::PhaseResult& in, PhaseStats& out) {
  constexpr int kCount = static_cast<int>(std::size(kPhaseHistograms));
  if (in.histograms_size() != kCount) return false;
  for (int i = 0; i < kCount; ++i)
    if (!decode_into(in.histograms(i), out.*kPhaseHistograms[i])) return false;
  if (!outcomes_from(in.outcomes(), out.outcomes)) return false;
  out.hops_recorded = in.hops_recorded();
  out.issued = in.issued();
  out.sent_on_time = in.sent_on_time();
  out.unsent = in.unsent();
  return true;
}

void to_proto(const PathRunResult& run, v1::Result& out) {
  for (auto& p : run.phases) to_proto(p, *out.add_phases());
  out.set_late(run.late);
  out.set_in_flight_after_drain(run.in_flight_after_drain);
  out.set_interrupted(run.interrupted);
  out.set_stopped_at_ns(run.stopped_at_ns);
  out.set_failure(run.failure);
  out.set_elapsed_ns(run.elapsed_ns);
  out.set_started_utc(run.started_utc);
  out.set_finished_utc(run.finished_utc);
  out.set_client_cpu_ns(run.cpu.by_group_ns[static_cast<std::size_t>(CpuGroup::client)]);
}

bool from_proto(const v1::Result& in, PathRunResult& out, std::string& why) {
  if (static_cast<std::size_t>(in.phases_size()) != out.plan.size()) {
    why = fmt::format("its result has {} phases, the plan {}", in.phases_size(), out.plan.size());
    return false;
  }
  out.phases.assign(out.plan.size(), PhaseStats{});
  for (int i = 0; i < in.phases_size(); ++i)
    if (!from_proto(in.phases(i), out.phases[static_cast<std::size_t>(i)])) {
      why = fmt::format("its phase {} does not decode", i);
      return false;
    }
  out.late = in.late();
  out.in_flight_after_drain = in.in_flight_after_drain();
  out.interrupted = in.interrupted();
  out.stopped_at_ns = in.stopped_at_ns();
  out.failure = in.failure();
  out.elapsed_ns = in.elapsed_ns();
  out.started_utc = in.started_utc();
  out.finished_utc = in.finished_utc();
  out.cpu.by_group_ns[static_cast<std::size_t>(CpuGroup::client)] = in.client_cpu_ns();
  return true;
}

void to_proto(std::int64_t second, const IntervalBucket& bucket, std::int64_t in_flight, v1::Second& out) {
  out.set_second(second);
  out.set_latency(bucket.latency.encode());
  for (auto n : bucket.outcomes) out.add_outcomes(n);
  out.set_in_flight(in_flight);
}

bool from_proto(const v1::Second& in, IntervalBucket& out) {
  return in.second() >= 0 && decode_into(in.latency(), out.latency) && outcomes_from(in.outcomes(), out.outcomes);
}

void to_proto(const DatasetShape& shape, v1::DatasetShape& out) {
  out.set_sales(shape.sales);
  out.set_categories(shape.categories);
  out.set_first_sale_epoch_s(shape.first_sale_epoch_s);
  out.set_last_sale_epoch_s(shape.last_sale_epoch_s);
  out.set_seed(shape.seed);
}

DatasetShape from_proto(const v1::DatasetShape& in) {
  return {in.sales(), in.categories(), in.first_sale_epoch_s(), in.last_sale_epoch_s(), in.seed()};
}

}  // namespace pathbench
