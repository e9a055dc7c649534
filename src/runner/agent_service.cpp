#include "runner/agent_service.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "build_info.h"
#include "net/grpc_server.h"
#include "paths/registry.h"
#include "runner/agent_wire.h"

#include "agent.grpc.pb.h"

namespace pathbench {

std::string pathbench_version_line() {
  return fmt::format("pathbench {} (commit {}, {} build, {})", build::version, build::git_commit, build::build_type,
                     build::compiler);
}

namespace {

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

using Stream = grpc::ServerReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>;

// One Run's conversation. The handler thread runs the load; reader() takes Start and Pings;
// sender() writes Heartbeats and Seconds. Writes go through write() (one at a time on the stream).
class RunSession {
 public:
  RunSession(grpc::ServerContext& context, Stream& stream, const AgentServerOptions& options,
             const std::atomic<bool>& server_stopping)
      : context_(context), stream_(stream), options_(options), server_stopping_(server_stopping) {}

  bool write(const v1::AgentMessage& message) {
    std::lock_guard lock(write_mutex_);
    return stream_.Write(message);
  }

  void start_threads() {
    last_ping_ns_ = now_ns();
    reader_ = std::thread([this] { reader(); });
    sender_ = std::thread([this] { sender(); });
  }

  // After the Result: stop sending, let the coordinator close its side (bounded), join.
  void finish_threads() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    changed_.notify_all();
    if (sender_.joinable()) sender_.join();
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, std::chrono::seconds(5), [this] { return reader_done_; })) context_.TryCancel();
    lock.unlock();
    if (reader_.joinable()) reader_.join();
  }

  // Called by the load generator once every thread connected: Ready, then wait for Start.
  Nanos choose_start(const std::string& endpoint) {
    v1::AgentMessage ready;
    ready.mutable_ready()->set_endpoint(endpoint);
    if (!write(ready)) return -1;
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return start_ns_.has_value() || stop_.load(); });
    if (!start_ns_ || *start_ns_ < 0 || stop_.load()) return -1;
    start_margin_ns_ = *start_ns_ - start_received_ns_;
    return *start_ns_;
  }

  // On the run's calling thread once the client threads are released (they wait for the line on
  // their own timers): sleeps until the line too and measures how late this host woke for it.
  void measure_start(Nanos start_ns) {
    std::this_thread::sleep_until(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(start_ns)));
    start_late_ns_ = std::max<Nanos>(0, now_ns() - start_ns);
  }

  void queue_second(std::int64_t second, const IntervalBucket& bucket, std::int64_t in_flight) {
    v1::AgentMessage m;
    to_proto(second, bucket, in_flight, *m.mutable_second());
    std::lock_guard lock(mutex_);
    seconds_.push_back(std::move(m));
  }

  // Sends what is queued now (before the Result, so every second arrives first).
  void flush_seconds() {
    std::deque<v1::AgentMessage> batch;
    {
      std::lock_guard lock(mutex_);
      batch.swap(seconds_);
    }
    for (auto& m : batch) write(m);
  }

  const std::atomic<bool>& stop() const noexcept { return stop_; }
  bool lost_coordinator() const noexcept { return lost_.load(); }
  Nanos start_late_ns() const noexcept { return start_late_ns_; }
  Nanos start_margin_ns() const noexcept { return start_margin_ns_; }

 private:
  void reader() {
    v1::CoordinatorMessage m;
    while (stream_.Read(&m)) {
      std::lock_guard lock(mutex_);
      last_ping_ns_ = now_ns();  // any message shows the coordinator is there
      if (m.has_start() && !start_ns_) {
        start_ns_ = m.start().start_ns();
        start_received_ns_ = now_ns();
      } else if (m.has_ping() && m.ping().stop()) {
        stop_.store(true);
      }
      changed_.notify_all();
    }
    std::lock_guard lock(mutex_);
    reader_done_ = true;
    if (!done_) {
      // The coordinator closed or lost the stream before the end: stop the load.
      lost_.store(true);
      stop_.store(true);
    }
    changed_.notify_all();
  }

  void sender() {
    std::unique_lock lock(mutex_);
    while (!done_) {
      changed_.wait_for(lock, std::chrono::nanoseconds(options_.heartbeat_interval_ns));
      if (done_) break;
      const Nanos now = now_ns();
      if (!stop_.load() && (now - last_ping_ns_ > options_.lost_after_ns || context_.IsCancelled() ||
                            server_stopping_.load())) {
        lost_.store(!server_stopping_.load());
        stop_.store(true);
        changed_.notify_all();
      }
      std::deque<v1::AgentMessage> batch;
      batch.swap(seconds_);
      lock.unlock();
      for (auto& m : batch) write(m);
      v1::AgentMessage heartbeat;
      heartbeat.mutable_heartbeat()->set_agent_ns(now);
      write(heartbeat);
      lock.lock();
    }
  }

  grpc::ServerContext& context_;
  Stream& stream_;
  const AgentServerOptions& options_;
  const std::atomic<bool>& server_stopping_;
  std::mutex write_mutex_;
  std::mutex mutex_;  // everything below
  std::condition_variable changed_;
  std::optional<Nanos> start_ns_;
  Nanos start_received_ns_ = 0;
  Nanos last_ping_ns_ = 0;
  std::deque<v1::AgentMessage> seconds_;
  bool done_ = false;
  bool reader_done_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<bool> lost_{false};
  Nanos start_late_ns_ = 0, start_margin_ns_ = 0;
  std::thread reader_, sender_;
};

}  // namespace

class AgentServer::Service final : public v1::Agent::Service {
 public:
  explicit Service(AgentServer& owner) : owner_(owner) {}

  grpc::Status Hello(grpc::ServerContext*, const v1::HelloRequest*, v1::HelloReply* reply) override {
    reply->set_version(owner_.options_.version);
    reply->set_hostname(hostname_);
    reply->set_steady_clock_ns(now_ns());
    return grpc::Status::OK;
  }

  grpc::Status Run(grpc::ServerContext* context, Stream* stream) override {
    // One run at a time; the one before may still be saying goodbye (bounded by finish_threads).
    std::unique_lock busy(busy_, std::defer_lock);
    if (!busy.try_lock_for(std::chrono::seconds(10)))
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, "this agent is running another load"};
    v1::CoordinatorMessage first;
    if (!stream->Read(&first) || !first.has_run())
      return {grpc::StatusCode::INVALID_ARGUMENT, "a Run begins with a RunRequest"};
    ++owner_.runs_started_;
    const v1::RunRequest& request = first.run();
    auto refuse = [&](const std::string& why) {
      v1::AgentMessage m;
      m.mutable_ready()->set_failure(why);
      stream->Write(m);
      return grpc::Status::OK;
    };
    Scenario scenario;
    try {
      scenario = load_scenario_text(request.scenario_toml(), "<coordinator's scenario>");
    } catch (const std::exception& e) {
      return refuse(fmt::format("the agent cannot load the scenario: {}", e.what()));
    }
    if (request.path_index() < 0 || static_cast<std::size_t>(request.path_index()) >= scenario.paths.size())
      return refuse(fmt::format("no path {} in the scenario", request.path_index()));
    if (request.first_thread() < 0 || request.thread_count() < 1 ||
        request.first_thread() + request.thread_count() > scenario.load.threads)
      return refuse(fmt::format("threads [{}, {}) are not within load.threads ({})", request.first_thread(),
                                request.first_thread() + request.thread_count(), scenario.load.threads));
    const PathSpec& spec = scenario.paths[static_cast<std::size_t>(request.path_index())];
    const PathInfo* info = find_route(spec.kind, spec.via);
    std::optional<DatasetShape> shape;
    if (request.has_shape()) shape = from_proto(request.shape());
    if (info && info->carries_queries && !shape && (scenario.query.point_weight > 0 || scenario.query.heavy_weight > 0))
      return refuse("the coordinator sent no dataset shape for a query mix that needs one");
    ReplayEndpoints endpoints(request.endpoints());
    std::unique_ptr<PathInstance> instance;
    try {
      if (!info) throw std::runtime_error(fmt::format("no path kind '{}' via '{}' here", spec.kind, spec.via));
      instance = info->create(scenario, spec, endpoints);
    } catch (const std::exception& e) {
      return refuse(fmt::format("{}: {}", spec.label, e.what()));
    }

    RunSession session(*context, *stream, owner_.options_, owner_.stopping_);
    session.start_threads();
    LoadShare share;
    share.first_thread = request.first_thread();
    share.thread_count = request.thread_count();
    const std::string endpoint = instance->endpoint();
    share.choose_start = [&session, &endpoint] { return session.choose_start(endpoint); };
    share.abort_reason = "the coordinator called the start off (or went away before it)";
    PathRunResult run = run_path(
        scenario, spec, info->carries_queries, *instance, session.stop(),
        [&session](const IntervalRow& row, const IntervalBucket& bucket) {
          session.queue_second(row.second, bucket, row.in_flight);
        },
        [&session](Nanos start) { session.measure_start(start); }, shape ? &*shape : nullptr, &share);
    owner_.last_run_finished_ns_.store(now_ns());
    std::int64_t issued = 0;
    for (auto& p : run.phases) issued += p.issued;
    owner_.last_run_issued_.store(issued);
    owner_.last_run_lost_coordinator_.store(session.lost_coordinator());

    session.flush_seconds();
    v1::AgentMessage result;
    to_proto(run, *result.mutable_result());
    result.mutable_result()->set_start_late_ns(session.start_late_ns());
    result.mutable_result()->set_start_margin_ns(session.start_margin_ns());
    session.write(result);
    session.finish_threads();
    instance.reset();  // its clients are gone; the path's servers (none on an agent) after them
    return grpc::Status::OK;
  }

 private:
  AgentServer& owner_;
  std::timed_mutex busy_;
  const std::string hostname_ = host_name();
};

AgentServer::AgentServer(AgentServerOptions options) : options_(std::move(options)) {
  service_ = std::make_unique<Service>(*this);
  server_ = std::make_unique<net::GrpcServer>(net::GrpcServerOptions{options_.listen, "agent", 64 << 20, options_.tls},
                                              std::vector<net::GrpcService>{{service_.get(), "pathbench.v1.Agent"}});
}

AgentServer::~AgentServer() { shutdown(); }

const std::string& AgentServer::address() const noexcept { return server_->address(); }

void AgentServer::shutdown() {
  stopping_.store(true);
  // A run notices within a heartbeat interval and drains within its deadline.
  if (server_) server_->shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

}  // namespace pathbench
