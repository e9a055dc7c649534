#include "runner/agents.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/url.h"
#include "net/grpc_credentials.h"
#include "net/tls_policy.h"
#include "runner/agent_service.h"
#include "scenario/loader.h"

#include "agent.grpc.pb.h"

namespace pathbench {

namespace {

std::chrono::system_clock::time_point deadline_after(Nanos ns) {
  return std::chrono::system_clock::now() + std::chrono::nanoseconds(ns);
}

// One agent's Run stream. The runner's thread writes (RunRequest, Start, Pings); reader() reads
// on its own thread and hands Seconds to the path's collector.
class AgentCall {
 public:
  AgentCall(const std::string& endpoint, int index, IntervalCollector& collector)
      : endpoint_(endpoint), index_(index), collector_(collector),
        stub_(v1::Agent::NewStub(net::make_grpc_channel(endpoint, net::client_tls().get()))) {}

  ~AgentCall() { close(); }

  void open(const v1::RunRequest& request) {
    heard_ns_ = now_ns();
    stream_ = stub_->Run(&context_);
    reader_ = std::thread([this] { reader(); });
    v1::CoordinatorMessage m;
    *m.mutable_run() = request;
    if (!stream_->Write(m)) fail("the control stream broke before the RunRequest went out");
  }

  bool write(const v1::CoordinatorMessage& m) { return !ended() && stream_->Write(m); }

  // The conversation is over for this agent: its Result came, or it failed / was lost.
  bool ended() const {
    std::lock_guard lock(mutex_);
    return result_.has_value() || !failure_.empty();
  }
  bool ready() const {
    std::lock_guard lock(mutex_);
    return ready_;
  }
  Nanos heard_ns() const {
    std::lock_guard lock(mutex_);
    return heard_ns_;
  }
  std::string failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
  }
  std::optional<v1::Result> result() const {
    std::lock_guard lock(mutex_);
    return result_;
  }

  // Marks the agent failed (first reason wins) and cancels its stream.
  void fail(std::string why) {
    {
      std::lock_guard lock(mutex_);
      if (result_ || !failure_.empty()) return;
      failure_ = std::move(why);
    }
    context_.TryCancel();
  }

  // Ends the call: half-close, bounded wait for the agent to finish, join the reader.
  void close() {
    if (!stream_ || closed_) return;
    closed_ = true;
    if (!ended()) fail("the run ended before its result came");
    if (result().has_value()) stream_->WritesDone();
    {
      std::unique_lock lock(mutex_);
      if (!reader_done_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return reader_done_; })) {
        lock.unlock();
        context_.TryCancel();
      }
    }
    if (reader_.joinable()) reader_.join();
    stream_->Finish();
  }

  const std::string& endpoint() const noexcept { return endpoint_; }

 private:
  void reader() {
    v1::AgentMessage m;
    bool retired = false;
    while (stream_->Read(&m)) {
      std::unique_lock lock(mutex_);
      heard_ns_ = now_ns();
      if (m.has_ready()) {
        if (!m.ready().failure().empty()) {
          if (failure_.empty()) failure_ = m.ready().failure();
        } else {
          ready_ = true;
        }
      } else if (m.has_second()) {
        lock.unlock();
        IntervalBucket bucket;
        if (from_proto(m.second(), bucket)) collector_.submit(index_, m.second().second(), bucket, m.second().in_flight());
      } else if (m.has_result()) {
        if (failure_.empty()) result_ = m.result();
        lock.unlock();
        collector_.retire(index_);
        retired = true;
      }
    }
    if (!retired) collector_.retire(index_);
    std::lock_guard lock(mutex_);
    if (!result_ && failure_.empty()) failure_ = "its control stream ended without a result (the agent went away)";
    reader_done_ = true;
    reader_done_cv_.notify_all();
  }

  std::string endpoint_;
  int index_;
  IntervalCollector& collector_;
  std::unique_ptr<v1::Agent::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::CoordinatorMessage, v1::AgentMessage>> stream_;
  std::thread reader_;
  bool closed_ = false;
  mutable std::mutex mutex_;
  std::condition_variable reader_done_cv_;
  bool ready_ = false, reader_done_ = false;
  Nanos heard_ns_ = 0;
  std::optional<v1::Result> result_;
  std::string failure_;
};

}  // namespace

std::vector<AgentClock> hello_agents(const std::vector<std::string>& endpoints, const std::string& expected_version,
                                     Nanos timeout_ns, int samples) {
  std::vector<AgentClock> clocks;
  for (auto& endpoint : endpoints) {
    auto stub = v1::Agent::NewStub(net::make_grpc_channel(endpoint, net::client_tls().get()));
    AgentClock clock;
    clock.endpoint = endpoint;
    clock.rtt_ns = -1;
    for (int i = 0; i < std::max(samples, 1); ++i) {
      grpc::ClientContext context;
      context.set_deadline(deadline_after(timeout_ns));
      // The first call connects; it waits for the channel rather than failing at once.
      context.set_wait_for_ready(i == 0);
      v1::HelloRequest request;
      request.set_coordinator_version(expected_version);
      v1::HelloReply reply;
      const Nanos sent = now_ns();
      grpc::Status status = stub->Hello(&context, request, &reply);
      const Nanos received = now_ns();
      if (!status.ok())
        throw AgentsError(fmt::format("agent {}: no answer to Hello: {}", endpoint, status.error_message()));
      if (reply.version() != expected_version)
        throw AgentsError(fmt::format("agent {} runs \"{}\", this coordinator \"{}\": run the same pathbench on every "
                                      "machine", endpoint, reply.version(), expected_version));
      if (i == 0) continue;  // the connecting call's round trip says nothing about the clock
      const Nanos rtt = received - sent;
      if (clock.rtt_ns < 0 || rtt < clock.rtt_ns) {
        clock.rtt_ns = rtt;
        clock.offset_ns = reply.steady_clock_ns() - (sent + rtt / 2);
        clock.uncertainty_ns = (rtt + 1) / 2;
      }
      clock.version = reply.version();
      clock.hostname = reply.hostname();
    }
    if (clock.rtt_ns < 0) throw AgentsError(fmt::format("agent {}: no clock sample", endpoint));
    clocks.push_back(std::move(clock));
  }
  return clocks;
}

PathRunResult run_path_on_agents(const Scenario& scenario, std::size_t path_index, const std::string& endpoint,
                                 const v1::ResolvedEndpoints& endpoints, const DatasetShape* shape,
                                 const std::atomic<bool>& stop, IntervalCollector::Observer on_second,
                                 const std::function<void(Nanos)>& on_start, AgentsPathReport& report,
                                 const std::function<void(const std::string&)>& note, const AgentsRunOptions& options) {
  const PathSpec& spec = scenario.paths.at(path_index);
  PathRunResult merged;
  merged.label = spec.label;
  merged.kind = spec.kind;
  merged.via = spec.via;
  merged.endpoint = endpoint;
  merged.plan = plan_phases(scenario.load);
  merged.phases.resize(merged.plan.size());
  merged.started_utc = utc_timestamp();
  report.label = spec.label;

  const auto& agent_endpoints = scenario.agents.endpoints;
  const int agents = static_cast<int>(agent_endpoints.size());
  const int threads = scenario.load.threads;
  std::vector<AgentClock> clocks = hello_agents(agent_endpoints, pathbench_version_line());
  if (threads < agents) throw AgentsError(fmt::format("{} agents need load.threads >= {}, found {}", agents, agents, threads));

  IntervalCollector collector(merged.plan, agents, std::move(on_second));
  std::vector<std::unique_ptr<AgentCall>> calls;
  // Without [tls]: its files are the coordinator's; each agent presents its own (--tls-*).
  Scenario sent = scenario;
  sent.tls = TlsConfig{};
  const std::string toml = scenario_to_toml(sent);
  int next_thread = 0;
  for (int k = 0; k < agents; ++k) {
    AgentShare share;
    share.clock = clocks[static_cast<std::size_t>(k)];
    share.first_thread = next_thread;
    share.thread_count = threads / agents + (k < threads % agents ? 1 : 0);
    next_thread += share.thread_count;
    v1::RunRequest request;
    request.set_scenario_toml(toml);
    request.set_path_index(static_cast<int>(path_index));
    request.set_first_thread(share.first_thread);
    request.set_thread_count(share.thread_count);
    *request.mutable_endpoints() = endpoints;
    if (shape) to_proto(*shape, *request.mutable_shape());
    report.agents.push_back(std::move(share));
    calls.push_back(std::make_unique<AgentCall>(agent_endpoints[static_cast<std::size_t>(k)], k, collector));
    calls.back()->open(request);
  }

  Nanos next_ping = now_ns();
  auto ping_all = [&] {
    if (now_ns() < next_ping) return;
    next_ping = now_ns() + options.ping_interval_ns;
    v1::CoordinatorMessage ping;
    ping.mutable_ping()->set_coordinator_ns(now_ns());
    ping.mutable_ping()->set_stop(stop.load());
    for (auto& c : calls) c->write(ping);
  };
  auto watch = [&](Nanos hard_end, const char* late_why) {
    const Nanos now = now_ns();
    for (auto& c : calls) {
      if (c->ended()) continue;
      if (now - c->heard_ns() > options.lost_after_ns)
        c->fail(fmt::format("lost: no heartbeat for {}", format_duration(options.lost_after_ns)));
      else if (now > hard_end)
        c->fail(late_why);
    }
  };
  auto tick = [] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); };

  // Every agent makes the path and connects its threads.
  const Nanos ready_by = now_ns() + scenario.load.deadline_ns + options.ready_grace_ns;
  auto all_ready = [&] {
    return std::all_of(calls.begin(), calls.end(), [](auto& c) { return c->ready(); });
  };
  auto any_ended = [&] {
    return std::any_of(calls.begin(), calls.end(), [](auto& c) { return c->ended(); });
  };
  while (!all_ready() && !any_ended() && !stop.load()) {
    ping_all();
    watch(ready_by, "it did not connect its client threads in time");
    tick();
  }

  Nanos start_line = -1;
  if (all_ready() && !any_ended() && !stop.load()) {
    Nanos max_rtt = 0;
    for (auto& c : clocks) max_rtt = std::max(max_rtt, c.rtt_ns);
    start_line = now_ns() + options.start_lead_ns + max_rtt;
  }
  for (std::size_t k = 0; k < calls.size(); ++k) {
    v1::CoordinatorMessage m;
    m.mutable_start()->set_start_ns(start_line < 0 ? -1 : start_line + clocks[k].offset_ns);
    calls[k]->write(m);
  }
  report.start_line_ns = start_line;
  if (start_line >= 0) {
    if (note)
      note(fmt::format("{}: {} agents start in {:.0f} ms ({} client threads between them)", spec.label, agents,
                       static_cast<double>(start_line - now_ns()) / 1e6, threads));
    if (on_start) on_start(start_line);
  }

  // The run: Pings out, Heartbeats and Seconds in, until every agent reported or was lost.
  const Nanos hard_end = (start_line >= 0 ? start_line : now_ns()) + planned_length_ns(scenario.load) +
                         scenario.load.deadline_ns + options.lost_after_ns + kNanosPerSecond;
  while (std::any_of(calls.begin(), calls.end(), [](auto& c) { return !c->ended(); })) {
    ping_all();
    watch(hard_end, "lost: it had not reported by the end of the run plus its deadline");
    tick();
  }
  for (auto& c : calls) c->close();

  // Merge: every agent's phases into one (the same bucket layout: exact), counters summed.
  Nanos finished = 0;
  std::vector<std::string> missing;
  for (std::size_t k = 0; k < calls.size(); ++k) {
    AgentShare& share = report.agents[k];
    share.run.label = spec.label;
    share.run.kind = spec.kind;
    share.run.via = spec.via;
    share.run.endpoint = endpoint;
    share.run.plan = merged.plan;
    share.run.phases.resize(merged.plan.size());
    // What an agent says may quote a broker URL: results and stdout never hold a secret.
    std::string why = redact_urls(calls[k]->failure());
    auto result = calls[k]->result();
    if (result && !from_proto(*result, share.run, why)) result.reset();
    share.run.failure = redact_urls(share.run.failure);
    if (!result) {
      share.missing = true;
      share.why = why;
      share.run.failure = fmt::format("missing: {}", why);
      missing.push_back(fmt::format("agent {} ({})", calls[k]->endpoint(), why));
      continue;
    }
    share.start_late_ns = result->start_late_ns();
    share.start_margin_ns = result->start_margin_ns();
    for (std::size_t p = 0; p < merged.phases.size(); ++p) merged.phases[p].merge(share.run.phases[p]);
    merged.late += share.run.late;
    merged.in_flight_after_drain += share.run.in_flight_after_drain;
    merged.interrupted = merged.interrupted || share.run.interrupted;
    if (share.run.interrupted && (merged.stopped_at_ns < 0 || share.run.stopped_at_ns < merged.stopped_at_ns))
      merged.stopped_at_ns = share.run.stopped_at_ns;
    finished = std::max(finished, share.run.elapsed_ns);
    merged.cpu.by_group_ns[static_cast<std::size_t>(CpuGroup::client)] +=
        share.run.cpu.by_group_ns[static_cast<std::size_t>(CpuGroup::client)];
    if (!share.run.failure.empty() && merged.failure.empty())
      merged.failure = fmt::format("agent {}: {}", calls[k]->endpoint(), share.run.failure);
    const Nanos skew_bound = kStartSkewBoundNs + share.clock.uncertainty_ns;
    if (start_line >= 0 && share.start_late_ns > kStartSkewBoundNs)
      fmt::print(stderr, "WARNING: {}: agent {} started {:.3f} ms after the start line (bound {:.3f} ms incl. clock "
                 "uncertainty)\n", spec.label, calls[k]->endpoint(), static_cast<double>(share.start_late_ns) / 1e6,
                 static_cast<double>(skew_bound) / 1e6);
  }
  merged.elapsed_ns = finished;
  merged.finished_utc = utc_timestamp();
  merged.intervals = collector.rows();
  if (!missing.empty()) {
    std::string list;
    for (auto& m : missing) list += (list.empty() ? "" : "; ") + m;
    const std::string text =
        start_line < 0 ? fmt::format("the agents could not start: {}", list)
                       : fmt::format("partial: the share of {} is missing from the merged results", list);
    if (start_line >= 0) fmt::print(stderr, "WARNING: {}: {}\n", spec.label, text);
    merged.failure = merged.failure.empty() ? text : text + "; " + merged.failure;
  }
  return merged;
}

}  // namespace pathbench
