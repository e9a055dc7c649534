#include "roles/task_engine.h"

#include <fmt/format.h>
#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <memory>

#include "db/task_store_open.h"
#include "pathbench.pb.h"
#include "roles/query_engine.h"

namespace pathbench {

namespace {

std::int64_t unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Nanos thread_cpu_now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<Nanos>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

}  // namespace

// One Task call: the reactor gRPC holds, and the job a task thread runs. Lives until OnDone,
// which comes after Finish, the last thing a task thread does with it.
class TaskEngine::Call final : public grpc::ServerUnaryReactor {
 public:
  Call(const v1::TaskRequest* request, v1::TaskReply* reply, Nanos received_ns)
      : request(request), reply(reply), received_ns(received_ns) {}
  void OnDone() override { delete this; }

  const v1::TaskRequest* request;
  v1::TaskReply* reply;
  Nanos received_ns;
};

TaskEngine::TaskEngine(const WorkerOptions& options) : options_(options) {}

TaskEngine::~TaskEngine() { stop(); }

grpc::ServerUnaryReactor* TaskEngine::serve(grpc::CallbackServerContext*, const v1::TaskRequest* request,
                                            v1::TaskReply* reply) {
  auto* call = new Call(request, reply, now_ns());
  received_.fetch_add(1, std::memory_order_relaxed);
  std::call_once(started_, [this] { start_threads(); });
  bool full = false;
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < static_cast<std::size_t>(std::max(1, options_.max_queue))) {
      queue_.push_back(call);
      cv_.notify_one();
      return call;
    }
    full = !stopping_;
  }
  if (full) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    call->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              fmt::format("worker {}: {} tasks queued, the limit", options_.id, options_.max_queue)));
  } else {
    call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, fmt::format("worker {} is shutting down", options_.id)));
  }
  return call;
}

void TaskEngine::start_threads() {
  const int n = std::max(1, options_.threads);
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this, i] { task_loop(i); });
    pthread_setname_np(threads_.back().native_handle(), worker_thread_name(options_.id, fmt::format("task{}", i)).c_str());
  }
}

void TaskEngine::set_hard_stop(Nanos at_ns) {
  hard_stop_ns_.store(at_ns);
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

void TaskEngine::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void TaskEngine::task_loop(int) {
  ThreadState state;
  for (;;) {
    Call* call = nullptr;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      call = queue_.front();
      queue_.pop_front();
    }
    run(*call, state);
  }
}

void TaskEngine::record_end(int type, bool done, Nanos duration_ns) noexcept {
  if (type < 0 || type >= static_cast<int>(by_type_.size())) return;
  AtomicTypeStats& s = by_type_[static_cast<std::size_t>(type)];
  (done ? s.completed : s.failed).fetch_add(1, std::memory_order_relaxed);
  const double seconds = static_cast<double>(duration_ns) / 1e9;
  std::size_t bucket = 0;
  while (bucket < kTaskDurationBucketsS.size() && seconds > kTaskDurationBucketsS[bucket]) ++bucket;
  s.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  s.duration_sum_ns.fetch_add(duration_ns, std::memory_order_relaxed);
}

void TaskEngine::run(Call& call, ThreadState& state) {
  call.Finish(execute(*call.request, *call.reply, call.received_ns, state));
}

grpc::Status TaskEngine::run_here(const v1::TaskRequest& request, v1::TaskReply& reply, Nanos received_ns,
                                  ThreadState& state) {
  received_.fetch_add(1, std::memory_order_relaxed);
  return execute(request, reply, received_ns, state);
}

grpc::Status TaskEngine::execute(const v1::TaskRequest& request, v1::TaskReply& reply_out, Nanos received_ns,
                                 ThreadState& state) {
  const Nanos started_ns = now_ns();
  const Nanos hard_stop = hard_stop_ns_.load();
  auto answer = [&](grpc::Status status) {
    if (status.ok()) {
      v1::TaskReply& reply = reply_out;
      reply.set_request_id(request.request_id());
      reply.set_task_id(request.task_id());
      reply.set_worker_id(options_.id);
      reply.set_worker_queue_ns(started_ns - received_ns);
      reply.set_worker_total_ns(now_ns() - received_ns);
    }
    return status;
  };
  if (started_ns >= hard_stop) {
    return answer(grpc::Status(grpc::StatusCode::UNAVAILABLE, fmt::format("worker {} is shutting down", options_.id)));
  }
  const int type = static_cast<int>(request.type());
  if (type < 0 || type >= static_cast<int>(kTaskTypeNames.size()))
    return answer(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, fmt::format("type: unknown task type {}", type)));

  Nanos sql_ns = 0;
  bool claimed = false;
  try {
    if (!state.store) {
      state.store = open_task_store(task_store_location(
          options_.db_path, static_cast<int>(options_.task_busy_timeout_ns / kNanosPerMilli), options_.task_durability));
    }
    const std::int64_t now_us = unix_us();
    const std::int64_t lease_us = std::max<std::int64_t>(1, request.lease_ns() / 1000);
    Nanos t0 = now_ns();
    claimed = state.store->claim(request.task_id(), request.run_id(), options_.id, now_us, now_us + lease_us);
    sql_ns += now_ns() - t0;
    if (!claimed) {
      not_claimable_.fetch_add(1, std::memory_order_relaxed);
      return answer(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                 fmt::format("task {} is not claimable (finished, or held by another worker)", request.task_id())));
    }
    in_processing_.fetch_add(1, std::memory_order_relaxed);
    // The work's own bound is the lease: past it another worker may take the task over.
    const Nanos work_deadline = started_ns + std::max<Nanos>(1, request.lease_ns());
    grpc::Status work_status = grpc::Status::OK;
    switch (type) {
      case 0: {  // query
        Query query;
        Answer a;
        if (!decode_request(request.query(), query, a)) {
          work_status = grpc::Status(a.code, a.message);
          break;
        }
        if (query.kind != QueryKind::echo && !state.executor && !options_.db_path.empty())
          state.executor = std::make_unique<QueryExecutor>(options_.db_path);
        run_query(query, state.executor.get(), work_deadline, hard_stop_ns_.load(), options_.id, a);
        sql_ns += a.sql_ns;
        if (a.code != grpc::StatusCode::OK) work_status = grpc::Status(a.code, a.message);
        break;
      }
      case 1: {  // cpu: this thread's CPU time, not the wall clock, so a preempted burn still burns cpu_us
        const Nanos until = thread_cpu_now_ns() + request.cpu_us() * kNanosPerMicro;
        volatile std::uint64_t sink = 0;
        while (thread_cpu_now_ns() < until) {
          for (int i = 0; i < 256; ++i) sink = sink + static_cast<std::uint64_t>(i) * 2654435761u;
          if (now_ns() >= hard_stop_ns_.load(std::memory_order_relaxed)) break;
        }
        break;
      }
      case 2: {  // write
        t0 = now_ns();
        state.store->write_batch(request.task_id(), request.run_id(), std::max(1, request.write_rows()));
        sql_ns += now_ns() - t0;
        break;
      }
    }
    if (now_ns() >= hard_stop_ns_.load()) {
      // The worker "died" mid-task: nothing more is written, the task stays `processing`.
      in_processing_.fetch_sub(1, std::memory_order_relaxed);
      abandoned_.fetch_add(1, std::memory_order_relaxed);
      return answer(grpc::Status(grpc::StatusCode::UNAVAILABLE, fmt::format("worker {} is shutting down", options_.id)));
    }
    t0 = now_ns();
    const std::int64_t finished_us = unix_us();
    state.store->finish(request.task_id(), request.run_id(), work_status.ok() ? TaskState::done : TaskState::failed,
                        finished_us);
    sql_ns += now_ns() - t0;
    in_processing_.fetch_sub(1, std::memory_order_relaxed);
    record_end(type, work_status.ok(), now_ns() - started_ns);
    reply_out.set_finished_unix_us(finished_us);
    reply_out.set_worker_sql_ns(sql_ns);
    return answer(work_status);
  } catch (const TaskStoreBusy& e) {
    if (claimed) in_processing_.fetch_sub(1, std::memory_order_relaxed);
    busy_.fetch_add(1, std::memory_order_relaxed);
    return answer(grpc::Status(grpc::StatusCode::UNAVAILABLE, fmt::format("worker {}: {}", options_.id, e.what())));
  } catch (const std::exception& e) {
    if (claimed) {
      in_processing_.fetch_sub(1, std::memory_order_relaxed);
      try {  // the work could not be done (an executor that would not open ...): the task failed
        state.store->finish(request.task_id(), request.run_id(), TaskState::failed, unix_us());
        record_end(type, false, now_ns() - started_ns);
      } catch (const std::exception&) {
        // Still `processing`: its lease ends and the reclaim takes it (docs/tasks.md).
      }
    }
    return answer(grpc::Status(grpc::StatusCode::INTERNAL, fmt::format("worker {}: {}", options_.id, e.what())));
  }
}

TaskEngineStats TaskEngine::stats() const {
  TaskEngineStats s;
  s.in_processing = in_processing_.load(std::memory_order_relaxed);
  s.received = received_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.not_claimable = not_claimable_.load(std::memory_order_relaxed);
  s.busy = busy_.load(std::memory_order_relaxed);
  s.abandoned = abandoned_.load(std::memory_order_relaxed);
  for (std::size_t t = 0; t < by_type_.size(); ++t) {
    s.by_type[t].completed = by_type_[t].completed.load(std::memory_order_relaxed);
    s.by_type[t].failed = by_type_[t].failed.load(std::memory_order_relaxed);
    for (std::size_t b = 0; b < by_type_[t].buckets.size(); ++b)
      s.by_type[t].duration_buckets[b] = by_type_[t].buckets[b].load(std::memory_order_relaxed);
    s.by_type[t].duration_sum_s = static_cast<double>(by_type_[t].duration_sum_ns.load(std::memory_order_relaxed)) / 1e9;
  }
  return s;
}

}  // namespace pathbench
