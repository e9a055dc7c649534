#include "roles/query_engine.h"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <stdexcept>

#include "db/executor.h"
#include "pathbench.pb.h"
#include "wire/query_codec.h"

namespace pathbench {

namespace {

std::chrono::steady_clock::time_point steady_time_point(Nanos at_ns) {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(at_ns));
}

}  // namespace

bool decode_request(const v1::QueryRequest& request, Query& query, Answer& answer) {
  std::string bad_field;
  if (from_proto(request, query, bad_field)) return true;
  answer.code = grpc::StatusCode::INVALID_ARGUMENT;
  answer.message = invalid_argument_message(bad_field, fmt::format("unknown query kind {}", static_cast<int>(request.kind())));
  return false;
}

void shutting_down(Answer& answer, const std::string& worker_id) {
  answer.code = grpc::StatusCode::UNAVAILABLE;
  answer.message = fmt::format("worker {} is shutting down", worker_id);
}

void run_query(const Query& query, QueryExecutor* executor, Nanos deadline_ns, Nanos hard_stop_ns,
               const std::string& worker_id, Answer& answer) {
  if (query.kind == QueryKind::echo) return;
  if (executor == nullptr) {
    answer.code = grpc::StatusCode::FAILED_PRECONDITION;
    answer.message = fmt::format("worker {} has no database: only echo queries can be served", worker_id);
    return;
  }
  QueryOutcome outcome = executor->run(query, std::min(deadline_ns, hard_stop_ns));
  answer.result = outcome.result;
  answer.sql_ns = outcome.sql_ns;
  switch (outcome.status) {
    case QueryStatus::ok:
      break;
    case QueryStatus::invalid_argument:
      answer.code = grpc::StatusCode::INVALID_ARGUMENT;
      answer.message = invalid_argument_message(outcome.error_field, outcome.error_message);
      break;
    case QueryStatus::deadline_exceeded:
      // Interrupted by a drain's hard stop rather than by the caller's own deadline.
      if (hard_stop_ns != kNoDeadline && now_ns() <= deadline_ns) return shutting_down(answer, worker_id);
      answer.code = grpc::StatusCode::DEADLINE_EXCEEDED;
      answer.message = "deadline exceeded while the query ran";
      break;
    case QueryStatus::error:
      answer.code = grpc::StatusCode::INTERNAL;
      answer.message = outcome.error_message.empty() ? std::string("SQL error") : std::move(outcome.error_message);
      break;
  }
}

void fill_reply(v1::QueryReply& reply, std::uint64_t request_id, const Answer& answer, const std::string& worker_id) {
  reply.set_request_id(request_id);
  if (answer.code != grpc::StatusCode::OK) {
    reply.mutable_status()->set_code(static_cast<int>(answer.code));
    reply.mutable_status()->set_message(answer.message);
  }
  reply.set_count(answer.result.count);
  reply.set_sum_cents(answer.result.sum_cents);
  reply.set_worker_queue_ns(answer.queue_ns);
  reply.set_worker_sql_ns(answer.sql_ns);
  reply.set_worker_total_ns(answer.total_ns);
  reply.set_worker_id(worker_id);
}

Nanos steady_deadline_ns(std::chrono::system_clock::time_point deadline, Nanos steady_now_ns) {
  if (deadline == std::chrono::system_clock::time_point::max()) return kNoDeadline;
  const auto left = deadline - std::chrono::system_clock::now();
  const Nanos left_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  if (left_ns >= kNoDeadline - steady_now_ns) return kNoDeadline;
  return steady_now_ns + left_ns;
}

std::string worker_thread_name(const std::string& id, const std::string& what) {
  std::string short_id = id;
  if (short_id.rfind("worker-", 0) == 0) short_id = "wk" + short_id.substr(7);
  const std::string suffix = "-" + what;
  const std::size_t room = 15 - std::min<std::size_t>(15, 3 + suffix.size());
  std::string name = "pb-" + short_id.substr(0, room) + suffix;
  return name.substr(0, 15);
}

// ---- QueryEngine -----------------------------------------------------------------------------

QueryEngine::QueryEngine(const WorkerOptions& options) : options_(options), added_delay_ns_(options.added_delay_ns) {
  const int threads = std::max(1, options.threads);
  // Opened here, on the constructing thread, so a missing or bad file fails the constructor
  // instead of one SQL thread; each executor is then used only by its own thread.
  for (int i = 0; i < threads; ++i) {
    if (options.db_path.empty()) {
      executors_.push_back(nullptr);
      continue;
    }
    try {
      executors_.push_back(std::make_unique<QueryExecutor>(options.db_path));
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("worker {}: {}", options.id, e.what()));
    }
  }
  slot_busy_ = std::make_unique<std::atomic<bool>[]>(static_cast<std::size_t>(threads));
  try {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { sql_loop(); });
      // Named from here rather than by the thread itself, so the names are in place when the
      // constructor returns (a profile or a test looking right away sees them).
      pthread_setname_np(threads_.back().native_handle(), worker_thread_name(options_.id, fmt::format("sql{}", i)).c_str());
    }
  } catch (...) {
    stop();  // a constructor that throws runs no destructor: join what did start
    throw;
  }
}

QueryEngine::~QueryEngine() { stop(); }

void QueryEngine::accept(const v1::QueryRequest& request, Nanos received_ns, Nanos deadline_ns, AnswerSink& sink) {
  received_.fetch_add(1, std::memory_order_relaxed);
  Job job{.query = {}, .request_id = request.request_id(), .received_ns = received_ns,
          .deadline_ns = deadline_ns, .sink = &sink};
  if (Answer invalid; !decode_request(request, job.query, invalid)) return finish(job, std::move(invalid));
  // Echo measures transport alone, so it skips the queue and the SQL threads, unless a slow
  // worker is being simulated: then the delay must hold an SQL thread like any query does.
  if (job.query.kind == QueryKind::echo && added_delay_ns_.load(std::memory_order_relaxed) == 0) {
    return finish(job, Answer{});
  }
  // A free slot and nothing waiting: run it here, sparing the hand-off to an SQL thread (a
  // mutex, a condition variable and a thread wake-up per query). The slow worker's delay
  // sleeps, so it always goes through the queue and holds an SQL thread.
  if (std::size_t slot = 0; waiting_.load(std::memory_order_acquire) == 0 &&
                            added_delay_ns_.load(std::memory_order_relaxed) == 0 && try_acquire_slot(slot)) {
    Answer answer = run(job, executors_[slot].get());
    release_slot(slot);
    return finish(job, std::move(answer));
  }
  bool stopping = false;
  bool queued = false;
  {
    std::lock_guard lock(mu_);
    stopping = stopping_;
    if (!stopping && queue_.size() < static_cast<std::size_t>(std::max(0, options_.max_queue))) {
      queue_.push_back(job);
      waiting_.fetch_add(1, std::memory_order_release);
      queued = true;
    }
  }
  if (queued) return queue_cv_.notify_one();  // after unlocking: the woken thread needs mu_
  if (stopping) {
    Answer answer;
    shutting_down(answer, options_.id);
    return finish(job, std::move(answer));
  }
  Answer answer;
  answer.code = grpc::StatusCode::RESOURCE_EXHAUSTED;
  answer.message = fmt::format("worker {} is overloaded: {} queries queued (max_queue)", options_.id, options_.max_queue);
  finish(job, std::move(answer));
}

void QueryEngine::set_added_delay(Nanos delay_ns) { added_delay_ns_.store(std::max<Nanos>(0, delay_ns)); }

void QueryEngine::set_hard_stop(Nanos at_ns) {
  {
    // Stored under mu_ so a delayed query between reading it and waiting cannot miss the notify.
    std::lock_guard lock(mu_);
    hard_stop_ns_.store(at_ns);
  }
  delay_cv_.notify_all();
}

void QueryEngine::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

WorkerStats QueryEngine::stats() const {
  WorkerStats s;
  s.received = received_.load(std::memory_order_relaxed);
  s.ok = ok_.load(std::memory_order_relaxed);
  s.invalid = invalid_.load(std::memory_order_relaxed);
  s.deadline_exceeded = deadline_exceeded_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.failed = failed_.load(std::memory_order_relaxed);
  return s;
}

bool QueryEngine::try_acquire_slot(std::size_t& slot) noexcept {
  for (std::size_t i = 0; i < executors_.size(); ++i) {
    bool expected = false;
    if (!slot_busy_[i].load(std::memory_order_relaxed) &&
        slot_busy_[i].compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      slot = i;
      return true;
    }
  }
  return false;
}

void QueryEngine::release_slot(std::size_t slot) noexcept { slot_busy_[slot].store(false, std::memory_order_release); }

void QueryEngine::sql_loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to answer
      job = queue_.front();
      queue_.pop_front();
    }
    // Every slot may be held by queries running inline; each ends within one query, and none
    // starts while this job is still counted in waiting_.
    std::size_t slot = 0;
    while (!try_acquire_slot(slot)) std::this_thread::yield();
    waiting_.fetch_sub(1, std::memory_order_release);
    Answer answer = run(job, executors_[slot].get());
    release_slot(slot);
    finish(job, std::move(answer));
  }
}

Answer QueryEngine::run(const Job& job, QueryExecutor* executor) {
  Answer answer;
  const Nanos dequeued_ns = now_ns();
  answer.queue_ns = dequeued_ns - job.received_ns;
  // The deadline first: gRPC cancels a call whose deadline passes, and that is a timeout.
  if (dequeued_ns > job.deadline_ns) {
    answer.code = grpc::StatusCode::DEADLINE_EXCEEDED;
    answer.message = fmt::format("deadline passed after {} us in the worker's queue", answer.queue_ns / kNanosPerMicro);
    return answer;
  }
  if (job.sink->cancelled()) {
    answer.code = grpc::StatusCode::CANCELLED;
    answer.message = "cancelled by the client while queued";
    return answer;
  }
  Nanos hard_stop_ns = hard_stop_ns_.load();
  if (dequeued_ns > hard_stop_ns) {
    shutting_down(answer, options_.id);
    return answer;
  }

  const Nanos delay_ns = added_delay_ns_.load(std::memory_order_relaxed);
  if (delay_ns > 0) {
    // Sleeps on a condition variable, not sleep_for, so a drain's hard stop cuts it short;
    // there is no point sleeping past the caller's deadline either.
    std::unique_lock lock(mu_);
    const Nanos delay_end_ns = delay_ns >= kNoDeadline - dequeued_ns ? kNoDeadline : dequeued_ns + delay_ns;
    const Nanos wake_ns = std::min(delay_end_ns, job.deadline_ns);
    for (;;) {
      const Nanos until_ns = std::min(wake_ns, hard_stop_ns_.load());
      if (now_ns() >= until_ns) break;
      delay_cv_.wait_until(lock, steady_time_point(until_ns));
    }
    hard_stop_ns = hard_stop_ns_.load();
    lock.unlock();
    const Nanos now = now_ns();
    if (now > job.deadline_ns) {
      answer.code = grpc::StatusCode::DEADLINE_EXCEEDED;
      answer.message = fmt::format("deadline passed during the worker's added delay of {} ms", delay_ns / kNanosPerMilli);
      return answer;
    }
    if (now > hard_stop_ns) {
      shutting_down(answer, options_.id);
      return answer;
    }
  }

  run_query(job.query, executor, job.deadline_ns, hard_stop_ns, options_.id, answer);
  return answer;
}

void QueryEngine::finish(const Job& job, Answer answer) {
  answer.total_ns = now_ns() - job.received_ns;
  count(answer.code);
  job.sink->complete(job.request_id, std::move(answer));
}

void QueryEngine::count(grpc::StatusCode code) noexcept {
  switch (code) {
    case grpc::StatusCode::OK: ok_.fetch_add(1, std::memory_order_relaxed); break;
    case grpc::StatusCode::INVALID_ARGUMENT: invalid_.fetch_add(1, std::memory_order_relaxed); break;
    case grpc::StatusCode::DEADLINE_EXCEEDED: deadline_exceeded_.fetch_add(1, std::memory_order_relaxed); break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: rejected_.fetch_add(1, std::memory_order_relaxed); break;
    default: failed_.fetch_add(1, std::memory_order_relaxed); break;
  }
}

}  // namespace pathbench
