#include "paths/task.h"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <array>
#include <condition_variable>
#include <mutex>
#include <atomic>
#include <optional>
#include <random>
#include <thread>

#include "db/catalog.h"
#include "db/task_store_open.h"
#include "measure/load_generator.h"
#include "pathbench.grpc.pb.h"
#include "paths/grpc_common.h"
#include "paths/endpoints.h"
#include "paths/task_route.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

// The gRPC route's in-flight call.
struct TaskCall {
  std::optional<grpc::ClientContext> context;
  v1::TaskRequest request;
  v1::TaskReply reply;
  grpc::Status status;
  std::uint32_t slot = 0;
  std::uint64_t id = 0;
  Query query;
};

class TaskClient final : public PathClient {
 public:
  TaskClient(const PathSpec& spec, const std::vector<std::string>& targets, int thread_index, asio::io_context& io,
             std::unique_ptr<TaskProducer> producer)
      : io_(io), producer_(std::move(producer)), sink_(producer_->sink()), scenario_(producer_->scenario()),
        channels_(targets, spec.connections, thread_index) {}

  ~TaskClient() override {
    while (outstanding_.load(std::memory_order_acquire) > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  void start(std::function<void(std::string)> done) override { done(channels_.connect(scenario_.load.deadline_ns)); }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query& query) override {
    TaskCall* call = acquire();
    if (!producer_->produce(slot, request_id, query, call->request)) {
      free_.push_back(call);
      return;
    }
    call->slot = slot;
    call->id = request_id;
    call->query = query;
    call->context.emplace();
    call->context->set_deadline(std::chrono::system_clock::now() + std::chrono::nanoseconds(scenario_.load.deadline_ns));
    call->request.set_request_id(request_id);
    call->reply.Clear();
    outstanding_.fetch_add(1, std::memory_order_relaxed);
    auto& stub = channels_.stubs[next_++ % channels_.stubs.size()];
    stub->async()->Task(&*call->context, &call->request, &call->reply, [this, call](grpc::Status status) {
      call->status = std::move(status);
      asio::post(io_, [this, call] { on_done(call); });
      outstanding_.fetch_sub(1, std::memory_order_release);
    });
  }

  void stop() override {
    for (auto& call : calls_)
      if (call->context) call->context->TryCancel();
  }

 private:
  TaskCall* acquire() {
    if (free_.empty()) {
      calls_.push_back(std::make_unique<TaskCall>());
      free_.push_back(calls_.back().get());
    }
    TaskCall* call = free_.back();
    free_.pop_back();
    return call;
  }

  void on_done(TaskCall* call) {
    Outcome outcome = outcome_from_status(call->status.error_code());
    if (outcome == Outcome::ok) {
      Hops hops{call->reply.balancer_ns(), call->reply.worker_total_ns(), call->reply.worker_queue_ns(),
                call->reply.worker_sql_ns()};
      sink_.complete(call->slot, call->id, outcome, &hops);
    } else {
      producer_->failed(call->request.task_id(), static_cast<int>(call->request.type()), call->query);
      sink_.complete(call->slot, call->id, outcome);
    }
    call->context.reset();
    free_.push_back(call);
  }

  asio::io_context& io_;
  std::unique_ptr<TaskProducer> producer_;
  CompletionSink& sink_;
  const Scenario& scenario_;
  ClientChannels channels_;
  std::vector<std::unique_ptr<TaskCall>> calls_;
  std::vector<TaskCall*> free_;
  std::size_t next_ = 0;
  std::atomic<int> outstanding_{0};
};

// via = "balancer" | "direct": unary Task calls.
class GrpcTaskRoute final : public TaskRoute {
 public:
  GrpcTaskRoute(const Scenario& scenario, const PathSpec& spec, const std::string& run_id,
                std::vector<std::string> targets)
      : scenario_(scenario), spec_(spec), run_id_(run_id), targets_(std::move(targets)) {}

  std::unique_ptr<PathClient> make_client(asio::io_context& io, std::unique_ptr<TaskProducer> producer,
                                          int thread_index) override {
    return std::make_unique<TaskClient>(spec_, targets_, thread_index, io, std::move(producer));
  }

  std::string endpoint() const override {
    std::string joined;
    for (auto& t : targets_) joined += (joined.empty() ? "" : ",") + t;
    return "grpc://" + joined;
  }

  std::vector<const TaskLedger::Failed*> redeliver(const std::vector<const TaskLedger::Failed*>& pending,
                                                   std::int64_t& done, Nanos give_up_ns) override;

 private:
  const Scenario& scenario_;
  const PathSpec& spec_;
  const std::string& run_id_;
  std::vector<std::string> targets_;
  std::vector<std::unique_ptr<v1::Worker::Stub>> stubs_;
  std::size_t redelivery_round_ = 0;
};

class TaskInstance final : public PathInstance {
 public:
  // `route` is made by make_route(run_id) once the run id is known.
  TaskInstance(const Scenario& scenario, const PathSpec& spec,
               const std::function<std::unique_ptr<TaskRoute>(const std::string& run_id)>& make_route)
      : scenario_(scenario) {
    // Unique per path run, readable in the table: scenario, label, UTC time, process id.
    run_id_ = fmt::format("{}/{}/{}/{}", scenario.name, spec.label, utc_timestamp(true), ::getpid());
    where_ = task_store_location(scenario.database.path, static_cast<int>(scenario.task.busy_timeout_ns / kNanosPerMilli),
                                 scenario.database.durability);
    const std::array<double, 3> weights{scenario.task.query_weight, scenario.task.cpu_weight, scenario.task.write_weight};
    kind_of_type_.fill(0);
    for (std::size_t t = 0; t < weights.size(); ++t) {
      if (weights[t] <= 0) continue;
      kind_of_type_[t] = static_cast<std::uint8_t>(kinds_.size());
      kinds_.emplace_back(kTaskTypeNamesInTable[t]);
    }
    // Opening one store here creates the tables before any client races to, and fails the path
    // early, with the file's name, when the tasks database cannot be opened.
    open_task_store(where_);
    route_ = make_route(run_id_);
  }

  std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, int thread_index) override {
    TaskLedger* ledger;
    std::int64_t first_task_id;
    {
      std::lock_guard lock(mu_);
      ledgers_.push_back(std::make_unique<TaskLedger>());
      ledger = ledgers_.back().get();
      // Every client ever made (a knee search makes a set per probe) numbers its tasks apart.
      first_task_id = static_cast<std::int64_t>(ledgers_.size()) << 40;
    }
    return route_->make_client(io,
                               std::make_unique<TaskProducer>(sink, scenario_, thread_index, run_id_, where_,
                                                              kind_of_type_, *ledger, first_task_id),
                               thread_index);
  }

  std::string endpoint() const override { return route_->endpoint(); }

  std::vector<std::string> request_kinds() const override { return kinds_; }

  // The audit (see task.h), into result.tasks.
  void run_finished(PathRunResult& result) override {
    std::int64_t requests_ok = 0;
    for (auto& p : result.phases) requests_ok += p.count(Outcome::ok);
    result.tasks = audit(requests_ok, !result.interrupted);
  }

 private:
  // Reclaims, redelivers (when `settle`) and counts; `requests_ok` is this run's ok requests.
  TaskAudit audit(std::int64_t requests_ok, bool settle);

  const Scenario& scenario_;
  std::string run_id_;
  TaskStoreLocation where_;
  std::array<std::uint8_t, 3> kind_of_type_{};
  std::vector<std::string> kinds_;
  std::mutex mu_;  // ledgers_ grows as client threads are made
  std::vector<std::unique_ptr<TaskLedger>> ledgers_;
  std::int64_t requests_ok_total_ = 0;  // over every run_path of this instance (a knee search has many)
  std::unique_ptr<TaskRoute> route_;
};

std::vector<const TaskLedger::Failed*> GrpcTaskRoute::redeliver(const std::vector<const TaskLedger::Failed*>& pending,
                                                                std::int64_t& done, Nanos give_up_ns) {
  if (stubs_.empty())
    for (std::size_t i = 0; i < targets_.size(); ++i)
      stubs_.push_back(v1::Worker::NewStub(make_channel(targets_[i], 900000 + static_cast<int>(i))));
  // All at once (a backlogged worker answers them in its own time), each with the request
  // deadline, cut at give_up; direct: spread over the workers, a different one each round.
  struct Call {
    grpc::ClientContext context;
    v1::TaskRequest request;
    v1::TaskReply reply;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  std::mutex mu;
  std::condition_variable cv;
  std::size_t remaining = pending.size();
  const Nanos call_deadline_ns = std::min(now_ns() + scenario_.load.deadline_ns, give_up_ns);
  for (std::size_t i = 0; i < pending.size(); ++i) {
    auto call = std::make_unique<Call>();
    fill_task_request(call->request, pending[i]->task_id, run_id_, pending[i]->type, pending[i]->query, scenario_.task);
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::nanoseconds(std::max<Nanos>(call_deadline_ns - now_ns(), kNanosPerMilli)));
    auto& stub = stubs_[(i + redelivery_round_) % stubs_.size()];
    Call* c = call.get();
    calls.push_back(std::move(call));
    stub->async()->Task(&c->context, &c->request, &c->reply, [c, &mu, &cv, &remaining](grpc::Status status) {
      std::lock_guard lock(mu);
      c->status = std::move(status);
      if (--remaining == 0) cv.notify_all();
    });
  }
  ++redelivery_round_;
  {
    // Bounded: every call has a deadline.
    std::unique_lock lock(mu);
    cv.wait(lock, [&remaining] { return remaining == 0; });
  }
  std::vector<const TaskLedger::Failed*> still;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    // Anything else stays pending: not claimable (finished already, or under a live worker's
    // lease, which a reclaim may end), or the worker could not be reached or answer in time.
    if (calls[i]->status.ok()) ++done;
    else still.push_back(pending[i]);
  }
  return still;
}

TaskAudit TaskInstance::audit(std::int64_t requests_ok, bool settle) {
  requests_ok_total_ += requests_ok;
  TaskAudit audit;
  audit.run_id = run_id_;
  audit.store = where_.display();
  audit.requests_ok = requests_ok_total_;
  std::vector<const TaskLedger::Failed*> pending;
  for (auto& l : ledgers_) {
    audit.issued += l->inserted;
    audit.insert_failed += l->insert_failed;
    audit.insert_busy += l->insert_busy;
    for (auto& f : l->failed) pending.push_back(&f);
  }
  try {
    auto store = open_task_store(where_);
    TaskCounts counts = store->audit(run_id_);
    // Bounded: a processing task's lease ends within `lease` of now (a lease starts no later);
    // then a redelivery round takes at most a deadline, and backlogged workers get another one.
    const Nanos give_up = now_ns() + scenario_.task.lease_ns + 2 * kNanosPerSecond + 2 * scenario_.load.deadline_ns;
    while (settle && counts.received + counts.processing > 0 && now_ns() < give_up) {
      if (counts.processing > 0) {
        const std::int64_t n = store->reclaim_expired(run_id_, task_unix_us());
        audit.reclaimed += n;
        if (n > 0) counts = store->audit(run_id_);
      }
      if (counts.received > 0 && !pending.empty()) {
        // Every failed request's task that is not done yet: a worker claims the `received` ones
        // and refuses the rest (done, or still under another worker's lease).
        pending = route_->redeliver(pending, audit.redelivered, give_up);
      }
      counts = store->audit(run_id_);
      if (counts.received + counts.processing > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    audit.received = counts.received;
    audit.processing = counts.processing;
    audit.done = counts.done;
    audit.failed = counts.failed;
    audit.done_after_timeout = std::max<std::int64_t>(0, counts.done - audit.requests_ok);
    audit.lost = std::max<std::int64_t>(0, audit.issued - counts.total()) +
                 std::max<std::int64_t>(0, audit.requests_ok - counts.done);
  } catch (const std::exception& e) {
    audit.error = e.what();
  }
  return audit;
}

}  // namespace

std::unique_ptr<PathInstance> create_task(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  if (spec.via == "queue") {
    // The broker of [broker] kind (embedded unless the scenario says otherwise), its task queue.
    mq::Endpoint endpoint = endpoints.task_queue_endpoint(scenario.broker.kind);
    return std::make_unique<TaskInstance>(scenario, spec, [&scenario, endpoint](const std::string& run_id) {
      return make_queue_task_route(scenario, run_id, endpoint);
    });
  }
  std::vector<std::string> targets = path_targets(spec, endpoints);
  return std::make_unique<TaskInstance>(scenario, spec, [&](const std::string& run_id) -> std::unique_ptr<TaskRoute> {
    return std::make_unique<GrpcTaskRoute>(scenario, spec, run_id, std::move(targets));
  });
}

// The producer half (paths/task_route.h), shared by the routes.

std::int64_t task_unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void fill_task_request(v1::TaskRequest& request, std::int64_t task_id, const std::string& run_id, int type,
                       const Query& query, const TaskConfig& task) {
  request.set_task_id(task_id);
  request.set_run_id(run_id);
  request.set_type(static_cast<v1::TaskType>(type));
  if (type == 0) to_proto(query, 0, *request.mutable_query());
  else request.clear_query();
  request.set_cpu_us(task.cpu_us);
  request.set_write_rows(task.write_rows);
  request.set_lease_ns(task.lease_ns);
}

TaskProducer::TaskProducer(CompletionSink& sink, const Scenario& scenario, int thread_index, const std::string& run_id,
                           const TaskStoreLocation& where, const std::array<std::uint8_t, 3>& kind_of_type,
                           TaskLedger& ledger, std::int64_t first_task_id)
    : sink_(sink), scenario_(scenario), run_id_(run_id), kind_of_type_(kind_of_type), ledger_(ledger),
      store_(open_task_store(where)), payload_(static_cast<std::size_t>(scenario.task.payload_bytes), 'p'),
      rng_(scenario.seed * 0x9E3779B97F4A7C15ull + 0x7461736bull + static_cast<std::uint64_t>(thread_index)),
      next_task_id_(first_task_id) {
  const TaskConfig& t = scenario.task;
  cumulative_ = {t.query_weight, t.query_weight + t.cpu_weight, t.query_weight + t.cpu_weight + t.write_weight};
  ledger_.failed.reserve(1024);
}

int TaskProducer::draw_type() {
  const double u = uniform_unit(rng_) * cumulative_.back();
  for (int t = 0; t < 3; ++t)
    if (u < cumulative_[static_cast<std::size_t>(t)]) return t;
  return cumulative_[2] > cumulative_[1] ? 2 : cumulative_[1] > cumulative_[0] ? 1 : 0;
}

bool TaskProducer::produce(std::uint32_t slot, std::uint64_t request_id, const Query& query, v1::TaskRequest& request) {
  const int type = draw_type();
  sink_.note_kind(slot, request_id, kind_of_type_[static_cast<std::size_t>(type)]);
  const std::int64_t task_id = next_task_id_++;
  try {
    store_->insert_received(task_id, run_id_, kTaskTypeNamesInTable[static_cast<std::size_t>(type)], payload_,
                            task_unix_us());
    ++ledger_.inserted;
  } catch (const TaskStoreBusy&) {
    ++ledger_.insert_failed;
    ++ledger_.insert_busy;
    sink_.complete(slot, request_id, Outcome::unavailable);
    return false;
  } catch (const std::exception&) {
    ++ledger_.insert_failed;
    sink_.complete(slot, request_id, Outcome::server_error);
    return false;
  }
  fill_task_request(request, task_id, run_id_, type, query, scenario_.task);
  return true;
}

}  // namespace pathbench
