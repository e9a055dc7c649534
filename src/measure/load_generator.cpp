#include "measure/load_generator.h"

#include <fmt/format.h>
#include <pthread.h>
#include <sys/prctl.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <latch>
#include <mutex>
#include <optional>
#include <thread>

#include "core/thread_cpu.h"
#include "db/catalog.h"


namespace pathbench {

namespace asio = boost::asio;

Nanos PathRunResult::ran_ns(std::size_t phase) const noexcept {
  if (phase >= plan.size()) return 0;
  const PhasePlan& p = plan[phase];
  if (stopped_at_ns < 0) return p.duration_ns();
  return std::clamp<Nanos>(stopped_at_ns - p.start_ns, 0, p.duration_ns());
}

bool PathRunResult::accounting_holds() const noexcept {
  for (auto& p : phases)
    if (p.issued != p.completed()) return false;
  if (tasks && tasks->lost != 0) return false;  // a task the audit cannot explain breaks the accounting too
  return in_flight_after_drain == 0;
}

std::string utc_timestamp(bool compact) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, compact ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::uint32_t open_loop_in_flight_cap(const std::vector<PhasePlan>& plan, const LoadConfig& load) {
  double peak_per_s = 0;
  for (auto& p : plan) peak_per_s = std::max({peak_per_s, p.rate_per_s, p.final_rate_per_s()});
  const double per_thread = peak_per_s / std::max(load.threads, 1);
  const double useful = 2.0 * per_thread * static_cast<double>(load.deadline_ns) / 1e9 + 64.0;
  return static_cast<std::uint32_t>(std::min(useful, 4.0e9));
}


namespace {

// Shared by the threads of one run; written before they start or through the start line only.
struct RunShared {
  RunShared(const Scenario& s, const PathSpec& p, bool cq, PathInstance& in, const std::atomic<bool>& st,
            int threads, IntervalCollector::Observer on_second)
      : scenario(s), spec(p), carries_queries(cq), instance(in), stop(st), plan(plan_phases(s.load)),
        intervals(plan, threads, std::move(on_second)), connected(threads) {}

  const Scenario& scenario;
  const PathSpec& spec;
  const bool carries_queries;
  PathInstance& instance;
  const std::atomic<bool>& stop;
  std::vector<PhasePlan> plan;
  IntervalCollector intervals;
  DatasetShape shape;
  std::vector<std::string> kinds;   // per-kind results: names, by index
  std::array<std::uint8_t, kAllQueryKinds.size()> kind_of_query{};  // QueryKind -> index (path declares none)
  std::latch connected;             // every thread arrives once, connected or not
  std::latch go{1};                 // released by the coordinator with start_ns set
  std::atomic<Nanos> start_ns{0};   // < 0: do not start (a thread failed to connect)
  std::mutex failure_mutex;         // connect failures only, never per request
  std::string failure;
};

struct Slot {
  std::uint64_t id = 0;
  Nanos intended_ns = 0;
  Nanos sent_ns = 0;
  Nanos deadline_ns = 0;
  std::uint32_t phase = 0;
  bool busy = false;
  std::uint8_t kind = kNoKind;
  static constexpr std::uint8_t kNoKind = 0xff;
};

// One client thread: its io_context, its transport client, its slots and its recorders.
class ClientThread final : public CompletionSink {
 public:
  // `index`: the thread's index among load.threads (its schedule, share and name); `local`: its
  // place among this run's threads (the interval collector's).
  ClientThread(RunShared& shared, int index, int local)
      : shared_(shared),
        index_(index),
        local_(local),
        io_(1),
        pace_timer_(io_),
        scan_timer_(io_),
        schedule_(shared.plan, shared.scenario.load.arrival, shared.scenario.load.threads, index,
                  shared.scenario.seed),
        rng_(shared.scenario.seed * 0x2545F4914F6CDD1Dull + static_cast<std::uint64_t>(index) + 1),
        phases_(shared.plan.size()) {
    const LoadConfig& load = shared.scenario.load;
    // Closed loop: this thread's share of the concurrency; open loop: its share of the cap.
    int share = load.concurrency / load.threads + (index < load.concurrency % load.threads ? 1 : 0);
    capacity_ = static_cast<std::uint32_t>(std::max(share, 1));
    if (load.mode == LoadMode::open) capacity_ = std::min(capacity_, open_loop_in_flight_cap(shared.plan, load));
    slots_.resize(capacity_);
    free_.reserve(capacity_);
    for (std::uint32_t i = capacity_; i-- > 0;) free_.push_back(i);
    if (shared.carries_queries && shared.shape.sales > 0) mix_.emplace(shared.scenario.query, shared.shape);
    scan_interval_ns_ = std::clamp<Nanos>(load.deadline_ns / 10, kNanosPerMilli, 50 * kNanosPerMilli);
  }

  void run() {
    std::string name = fmt::format("pb-client-{}", index_);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    // Timers should fire when asked, not up to 50 µs later (the default timer slack).
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    connect();
    shared_.connected.count_down();
    shared_.go.wait();
    start_ns_ = shared_.start_ns.load();
    if (start_ns_ < 0 || !client_) {
      shared_.intervals.retire(local_);
      shutdown_client();
      return;
    }
    bucket_end_ns_ = start_ns_ + kNanosPerSecond;
    end_ns_ = start_ns_ + shared_.plan.back().end_ns;
    issuing_ = true;
    if (shared_.scenario.load.mode == LoadMode::open) {
      next_intended_ns_ = advance_schedule();
      // A thread may get no arrival at all (a low rate spread over many threads): it is done
      // issuing at once and must still end, like a thread past its last arrival.
      if (next_intended_ns_ == kNever) stop_issuing();
      else arm_pace_timer();
    } else {
      pace_timer_.expires_at(to_time_point(start_ns_));
      pace_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        // At most the slots free now: a transport that fails inside issue() frees its slot at
        // once, and the rest must go through the io_context (refill posts it) so timers and the
        // stop flag keep running.
        for (auto n = free_.size(); n-- > 0 && issuing_ && !free_.empty();) issue_one(now_ns());
      });
    }
    if (!finished_) arm_scan_timer();
    if (client_->polled()) drive_polled();
    else io_.run();
    shutdown_client();
    // The thread ends before the runner's CPU sample, so it reports its own.
    cpu_ns_ = this_thread_cpu_ns();
  }
  Nanos cpu_ns() const noexcept { return cpu_ns_; }

  void complete(std::uint32_t slot, std::uint64_t request_id, Outcome outcome, const Hops* hops) noexcept override {
    Nanos now = now_ns();
    if (slot >= capacity_ || !slots_[slot].busy || slots_[slot].id != request_id) {
      ++late_;  // it already timed out, or the transport made up an id
      return;
    }
    Slot& s = slots_[slot];
    PhaseStats& stats = phases_[s.phase];
    if (now > s.deadline_ns) {
      // Past its deadline before the scan saw it (a busy io_context runs timers late): a
      // timeout, and the reply is late — never ok, whatever the transport said.
      outcome = Outcome::timeout;
      ++late_;
    }
    ++stats.outcomes[static_cast<std::size_t>(outcome)];
    if (now >= bucket_end_ns_) flush_intervals(now);
    ++bucket_.outcomes[static_cast<std::size_t>(outcome)];
    if (s.kind != Slot::kNoKind) {
      KindStats& k = stats.kinds[s.kind];
      ++k.outcomes[static_cast<std::size_t>(outcome)];
      if (outcome == Outcome::ok) k.latency.record(now - s.intended_ns);
    }
    if (outcome == Outcome::ok) {
      stats.latency.record(now - s.intended_ns);
      bucket_.latency.record(now - s.intended_ns);
      stats.uncorrected.record(now - s.sent_ns);
      if (hops) stats.record_hops(*hops, now - s.sent_ns);
    }
    release(slot);
    refill(now);
  }

  void note_kind(std::uint32_t slot, std::uint64_t request_id, std::uint8_t kind) noexcept override {
    if (slot >= capacity_ || !slots_[slot].busy || slots_[slot].id != request_id || kind >= shared_.kinds.size()) return;
    Slot& s = slots_[slot];
    PhaseStats& stats = phases_[s.phase];
    if (s.kind != Slot::kNoKind) --stats.kinds[s.kind].issued;
    s.kind = kind;
    ++stats.kinds[kind].issued;
  }

  Nanos intended_ns(std::uint32_t slot) const noexcept override {
    return slot < capacity_ ? slots_[slot].intended_ns : 0;
  }

  std::vector<PhaseStats>& phases() noexcept { return phases_; }
  std::int64_t late() const noexcept { return late_; }
  std::int64_t in_flight() const noexcept { return static_cast<std::int64_t>(capacity_ - free_.size()); }
  bool interrupted() const noexcept { return interrupted_; }
  Nanos interrupted_at_ns() const noexcept { return interrupted_at_ns_; }
  Nanos finished_ns() const noexcept { return finished_ns_; }

 private:
  static asio::steady_timer::time_point to_time_point(Nanos ns) {
    return asio::steady_timer::time_point(std::chrono::nanoseconds(ns));
  }

  void connect() {
    try {
      client_ = shared_.instance.make_client(io_, *this, index_);
    } catch (const std::exception& e) {
      record_failure(fmt::format("client thread {}: {}", index_, e.what()));
      return;
    }
    std::optional<std::string> result;
    client_->start([&result](std::string error) { result = std::move(error); });
    // Bounded: the transport promises to answer within the deadline; we wait a little longer.
    Nanos give_up = now_ns() + shared_.scenario.load.deadline_ns + kNanosPerSecond;
    while (!result && now_ns() < give_up) {
      io_.run_one_for(std::chrono::milliseconds(10));
      if (io_.stopped()) io_.restart();
    }
    if (!result) result = "connecting did not finish within the deadline";
    if (!result->empty()) {
      record_failure(fmt::format("client thread {}: {}", index_, *result));
      client_->stop();
      io_.restart();
      io_.run_for(std::chrono::seconds(1));
      client_.reset();
    }
    io_.restart();
  }

  void record_failure(std::string message) {
    std::lock_guard lock(shared_.failure_mutex);
    if (shared_.failure.empty()) shared_.failure = std::move(message);
  }

  Nanos advance_schedule() noexcept {
    Nanos offset = schedule_.next();
    return offset == kNever ? kNever : start_ns_ + offset;
  }

  void arm_pace_timer() {
    if (!issuing_ || next_intended_ns_ == kNever) return;
    pace_timer_.expires_at(to_time_point(pace_wake_ns()));
    pace_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      // [load] spin: the timer woke us early on purpose; the last stretch is busy-waited,
      // which is on time where a timer wake-up is tens of microseconds late.
      // Bounded by the spin itself: the handler may run after issuing ended (kNever).
      if (issuing_ && next_intended_ns_ - now_ns() <= shared_.scenario.load.spin_ns) {
        while (now_ns() < next_intended_ns_) {
        }
      }
      issue_due();
    });
  }

  // When the pace timer fires: the next intended send, less the [load] spin.
  Nanos pace_wake_ns() const noexcept { return next_intended_ns_ - shared_.scenario.load.spin_ns; }

  // Open loop: send everything whose intended time has come. When every slot is taken the
  // backlog waits for a completion; its latency keeps counting from the intended time.
  void issue_due() {
    Nanos now = now_ns();
    while (issuing_ && next_intended_ns_ <= now) {
      if (now - next_intended_ns_ > shared_.scenario.load.deadline_ns) {
        expire_unsent(next_intended_ns_, now);
      } else if (!free_.empty()) {
        issue_one(next_intended_ns_);
      } else {
        cap_full_ = true;
        break;
      }
      next_intended_ns_ = advance_schedule();
      if (next_intended_ns_ == kNever) stop_issuing();
    }
    if (issuing_ && next_intended_ns_ > now) arm_pace_timer();
  }

  void issue_one(Nanos intended_ns) {
    std::size_t phase = phase_at(shared_.plan, intended_ns - start_ns_);
    if (phase >= shared_.plan.size()) {
      stop_issuing();
      return;
    }
    std::uint32_t slot = free_.back();
    free_.pop_back();
    Nanos sent = now_ns();
    Slot& s = slots_[slot];
    s = Slot{next_id_++, intended_ns, sent, sent + shared_.scenario.load.deadline_ns,
             static_cast<std::uint32_t>(phase), true};
    PhaseStats& stats = phases_[phase];
    ++stats.issued;
    if (sent - intended_ns <= kOnTimeToleranceNs) ++stats.sent_on_time;
    stats.lag.record(sent - intended_ns);
    // Due while every slot was taken: it waited for the server, not for the generator.
    if (shared_.scenario.load.mode == LoadMode::open && intended_ns >= cap_full_until_ns_)
      stats.wakeup_lag.record(sent - intended_ns);
    Query query = mix_ ? mix_->draw(rng_) : Query{};
    s.kind = shared_.kind_of_query[static_cast<std::size_t>(query.kind)];
    if (s.kind != Slot::kNoKind) ++stats.kinds[s.kind].issued;
    in_issue_ = true;
    client_->issue(slot, s.id, query);
    in_issue_ = false;
  }

  // A request that waited in the backlog past its whole deadline was never going to make it:
  // it is issued and timed out at once, so a stalled server cannot make the drain unbounded.
  void expire_unsent(Nanos intended_ns, Nanos now) {
    std::size_t phase = phase_at(shared_.plan, intended_ns - start_ns_);
    if (phase >= shared_.plan.size()) return;
    PhaseStats& stats = phases_[phase];
    ++stats.issued;
    ++stats.unsent;
    ++stats.outcomes[static_cast<std::size_t>(Outcome::timeout)];
    if (now >= bucket_end_ns_) flush_intervals(now);  // the timeout belongs to the second it happens in
    ++bucket_.outcomes[static_cast<std::size_t>(Outcome::timeout)];
    stats.lag.record(now - intended_ns);
  }

  // Hands every second that is over to the collector (empty ones too, so seconds stay in step).
  void flush_intervals(Nanos now) {
    while (now >= bucket_end_ns_) {
      shared_.intervals.submit(local_, bucket_second_, bucket_, in_flight());
      bucket_.reset();
      ++bucket_second_;
      bucket_end_ns_ += kNanosPerSecond;
    }
  }

  void release(std::uint32_t slot) noexcept {
    slots_[slot].busy = false;
    free_.push_back(slot);
    if (cap_full_) {
      cap_full_ = false;
      cap_full_until_ns_ = now_ns();  // everything due before now waited for this slot
    }
  }

  // A slot came free: closed loop sends the next request at once; open loop sends any backlog.
  void refill(Nanos now) {
    if (!issuing_) {
      if (free_.size() == capacity_) finish();
      return;
    }
    if (in_issue_) {
      // A transport that fails inside issue() must not recurse into issue() again.
      if (!refill_posted_) {
        refill_posted_ = true;
        asio::post(io_, [this] {
          refill_posted_ = false;
          refill(now_ns());
        });
      }
      return;
    }
    if (shared_.scenario.load.mode == LoadMode::closed) {
      if (now >= end_ns_) return stop_issuing();
      for (auto n = free_.size(); n-- > 0 && issuing_ && !free_.empty() && !in_issue_;) {
        Nanos t = now_ns();
        if (t >= end_ns_) return stop_issuing();
        issue_one(t);
      }
    } else if (next_intended_ns_ <= now) {
      issue_due();
    }
  }

  void stop_issuing() {
    if (!issuing_) return;
    issuing_ = false;
    pace_timer_.cancel();
    if (free_.size() == capacity_) finish();
  }

  // Deadlines, the stop flag and the end of the schedule are checked here, off the hot path.
  void arm_scan_timer() {
    scan_timer_.expires_after(std::chrono::nanoseconds(scan_interval_ns_));
    scan_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      scan();
      if (!finished_) arm_scan_timer();
    });
  }

  void scan() {
    Nanos now = now_ns();
    if (now >= bucket_end_ns_) flush_intervals(now);
    if (issuing_ && shared_.stop.load(std::memory_order_relaxed)) {
      interrupted_ = true;
      interrupted_at_ns_ = now - start_ns_;
      stop_issuing();
    }
    if (issuing_ && now >= end_ns_ && shared_.scenario.load.mode == LoadMode::closed) stop_issuing();
    for (std::uint32_t i = 0; i < capacity_; ++i) {
      Slot& s = slots_[i];
      if (s.busy && s.deadline_ns <= now) {
        ++phases_[s.phase].outcomes[static_cast<std::size_t>(Outcome::timeout)];
        if (s.kind != Slot::kNoKind) ++phases_[s.phase].kinds[s.kind].outcomes[static_cast<std::size_t>(Outcome::timeout)];
        ++bucket_.outcomes[static_cast<std::size_t>(Outcome::timeout)];
        release(i);
      }
    }
    if (!issuing_ && free_.size() == capacity_) finish();
    else if (issuing_ && !free_.empty()) refill(now);
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    finished_ns_ = now_ns();
    flush_intervals(finished_ns_);
    shared_.intervals.submit(local_, bucket_second_, bucket_, in_flight());  // the last, partial second
    shared_.intervals.retire(local_);
    pace_timer_.cancel();
    scan_timer_.cancel();
    if (client_) client_->stop();
  }

  void shutdown_client() {
    // The transport closed its connections in stop(); give its handlers a bounded time to unwind.
    if (client_ && !finished_) client_->stop();
    io_.restart();
    if (client_ && client_->polled()) {
      const Nanos give_up = now_ns() + 2 * kNanosPerSecond;
      while (client_->poll(std::min(now_ns() + 10 * kNanosPerMilli, give_up)) && now_ns() < give_up) io_.poll();
    }
    io_.run_for(std::chrono::seconds(2));
    io_.stop();
  }

  // The client thread's loop for a transport with a completion queue of its own: the
  // io_context's timers and posted handlers, then the transport's queue until the next timer
  // is due (gRPC rounds that wait up to its millisecond clock; a queue polled without waiting
  // does no network I/O, so waiting is the only way to read replies); with nothing pending
  // the thread waits on the io_context, as precisely as ever.
  void drive_polled() {
    while (!io_.stopped()) {
      io_.poll();
      if (io_.stopped()) break;
      Nanos next = scan_timer_expiry_ns();
      // A due request waiting for a free slot (cap_full_) has no timer armed: only a
      // completion, taken from the client's queue, frees a slot for it.
      if (issuing_ && !cap_full_ && next_intended_ns_ != kNever && shared_.scenario.load.mode == LoadMode::open)
        next = std::min(next, pace_wake_ns());
      if (next <= now_ns()) {
        // Something is due on the io_context; still take what the queue has ready, without
        // waiting, so a deadline or timer in the past can never starve the completions.
        client_->poll(0);
        continue;
      }
      if (client_->poll(next)) continue;
      io_.run_one_until(to_time_point(next));
    }
  }

  Nanos scan_timer_expiry_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(scan_timer_.expiry().time_since_epoch()).count();
  }

  RunShared& shared_;
  int index_;
  int local_;
  asio::io_context io_;
  asio::steady_timer pace_timer_;
  asio::steady_timer scan_timer_;
  ArrivalSchedule schedule_;
  std::mt19937_64 rng_;
  std::optional<QueryMix> mix_;
  std::unique_ptr<PathClient> client_;
  std::vector<PhaseStats> phases_;
  IntervalBucket bucket_;
  std::int64_t bucket_second_ = 0;
  Nanos bucket_end_ns_ = kNever;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  std::uint32_t capacity_ = 1;
  std::uint64_t next_id_ = 1;
  Nanos start_ns_ = 0;
  Nanos end_ns_ = 0;
  Nanos next_intended_ns_ = kNever;
  Nanos scan_interval_ns_ = kNanosPerMilli;
  Nanos finished_ns_ = 0;
  Nanos interrupted_at_ns_ = -1;  // from the start line, when the stop flag ended issuing
  bool cap_full_ = false;          // a due request found every slot taken
  Nanos cap_full_until_ns_ = 0;    // when the last such wait ended
  Nanos cpu_ns_ = 0;
  std::int64_t late_ = 0;
  bool issuing_ = false;
  bool in_issue_ = false;
  bool refill_posted_ = false;
  bool finished_ = false;
  bool interrupted_ = false;
};

}  // namespace

PathRunResult run_path(const Scenario& scenario, const PathSpec& spec, bool carries_queries, PathInstance& instance,
                       const std::atomic<bool>& stop, IntervalCollector::Observer on_second,
                       const std::function<void(Nanos)>& on_start, const DatasetShape* shape,
                       const LoadShare* share) {
  const int first_thread = share ? std::clamp(share->first_thread, 0, scenario.load.threads) : 0;
  const int threads = share && share->thread_count >= 0
                          ? std::min(share->thread_count, scenario.load.threads - first_thread)
                          : scenario.load.threads - first_thread;
  RunShared shared(scenario, spec, carries_queries, instance, stop, threads, std::move(on_second));
  if (carries_queries && (scenario.query.point_weight > 0 || scenario.query.heavy_weight > 0))
    shared.shape = shape ? *shape : read_dataset_shape(scenario.database.path);
  // Per-kind results: the path's own kinds, or the query mix's kinds with a weight.
  shared.kinds = instance.request_kinds();
  shared.kind_of_query.fill(Slot::kNoKind);
  if (shared.kinds.size() > kMaxRequestKinds) shared.kinds.resize(kMaxRequestKinds);
  if (shared.kinds.empty() && carries_queries) {
    const QueryMixConfig& q = scenario.query;
    for (QueryKind k : kAllQueryKinds) {
      const double w = k == QueryKind::echo ? q.echo_weight : k == QueryKind::point ? q.point_weight : q.heavy_weight;
      if (w <= 0) continue;
      shared.kind_of_query[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(shared.kinds.size());
      shared.kinds.emplace_back(to_string(k));
    }
  }

  PathRunResult result;
  result.label = spec.label;
  result.kind = spec.kind;
  result.via = spec.via;
  result.endpoint = instance.endpoint();
  result.plan = shared.plan;
  result.started_utc = utc_timestamp();

  std::vector<std::unique_ptr<ClientThread>> clients;
  for (int i = 0; i < threads; ++i) clients.push_back(std::make_unique<ClientThread>(shared, first_thread + i, i));
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) workers.emplace_back([&clients, i] { clients[i]->run(); });

  // Every thread connects first; then all start together a little in the future, so no
  // thread's first arrivals are already late.
  shared.connected.wait();
  Nanos start = -1;
  if (shared.failure.empty()) {
    start = share && share->choose_start ? share->choose_start() : now_ns() + 5 * kNanosPerMilli;
    if (start < 0) shared.failure = share->abort_reason;
  }
  shared.start_ns.store(start);
  shared.go.count_down();
  if (start > 0) instance.run_started(start);
  if (start > 0 && on_start) on_start(start);
  for (auto& t : workers) t.join();

  result.finished_utc = utc_timestamp();
  result.failure = shared.failure;
  result.phases.resize(shared.plan.size());
  Nanos finished = start;
  for (auto& c : clients) {
    for (std::size_t p = 0; p < shared.plan.size(); ++p) result.phases[p].merge(c->phases()[p]);
    result.late += c->late();
    result.in_flight_after_drain += c->in_flight();
    result.interrupted = result.interrupted || c->interrupted();
    if (c->interrupted() && (result.stopped_at_ns < 0 || c->interrupted_at_ns() < result.stopped_at_ns))
      result.stopped_at_ns = c->interrupted_at_ns();
    finished = std::max(finished, c->finished_ns());
    result.cpu.by_group_ns[static_cast<std::size_t>(CpuGroup::client)] += c->cpu_ns();
  }
  result.elapsed_ns = start > 0 ? finished - start : 0;
  result.intervals = shared.intervals.rows();
  result.kinds = shared.kinds;
  if (start > 0) {
    instance.run_finished(result);
  }
  return result;
}

}  // namespace pathbench
