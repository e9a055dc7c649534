#include "paths/messaging.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "core/url.h"
#include "measure/load_generator.h"
#include "mq/messaging_probe.h"
#include "mq/mq.h"
#include "paths/endpoints.h"
#include "paths/grpc_common.h"
#include "paths/message_consumers.h"
#include "paths/messaging_ledger.h"
#include "roles/message_consumer.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

// What one client thread's publisher had confirmed: written by that thread only and read after
// it was joined; the count is also read by the backlog sampler meanwhile (single writer).
struct PublisherBook {
  std::vector<std::pair<std::uint64_t, Nanos>> confirmed;  // (key, intended publish time)
  std::atomic<std::int64_t> confirmed_count{0};
  void reset() {
    confirmed.clear();
    confirmed_count.store(0, std::memory_order_relaxed);
  }
};

// Runs on the client thread; the requester (one-way) calls back on the same io_context.
class MessagingClient final : public PathClient {
 public:
  MessagingClient(asio::io_context& io, CompletionSink& sink, const mq::Endpoint& endpoint, const PathSpec& spec,
                  int thread_index, std::uint32_t run, PublisherBook& book)
      : sink_(sink), thread_index_(thread_index), run_(run), message_bytes_(static_cast<std::size_t>(spec.message_bytes)),
        book_(book) {
    book_.confirmed.reserve(1 << 16);
    slots_.resize(256);
    requester_ = mq::make_requester(
        endpoint, io,
        [this](std::uint64_t correlation_id, Outcome outcome, std::string_view) { on_confirm(correlation_id, outcome); },
        thread_index);
  }

  void start(std::function<void(std::string)> done) override { requester_->start(std::move(done)); }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query& query) override {
    Nanos intended = sink_.intended_ns(slot);
    if (intended <= 0) intended = now_ns();
    const std::uint64_t key = message_key(run_, thread_index_, request_id);
    if (slot >= slots_.size()) slots_.resize(std::max<std::size_t>(slot + 1, slots_.size() * 2));
    slots_[slot] = {request_id, key, intended};
    to_proto(query, 0, request_);
    request_.set_request_id(key);
    request_.set_sent_ns(intended);
    proto_.clear();
    request_.AppendToString(&proto_);
    make_message_body(key, intended, proto_, message_bytes_, body_);
    requester_->request(wire_id(slot, request_id), body_);
  }

  void stop() override { requester_->stop(); }

 private:
  struct Sent {
    std::uint64_t request_id = 0, key = 0;
    Nanos intended_ns = 0;
  };

  void on_confirm(std::uint64_t correlation_id, Outcome outcome) {
    const std::uint32_t slot = slot_of(correlation_id);
    const std::uint64_t id = id_of(correlation_id);
    if (outcome == Outcome::ok && slot < slots_.size() && slots_[slot].request_id == id) {
      // Confirmed by the broker, even when the load generator already gave up on it: it is in
      // the queue and owed a consumption.
      book_.confirmed.emplace_back(slots_[slot].key, slots_[slot].intended_ns);
      book_.confirmed_count.store(book_.confirmed_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    sink_.complete(slot, id, outcome);
  }

  CompletionSink& sink_;
  const int thread_index_;
  const std::uint32_t run_;
  const std::size_t message_bytes_;
  PublisherBook& book_;
  std::unique_ptr<mq::Requester> requester_;
  std::vector<Sent> slots_;
  v1::QueryRequest request_;  // reused: serialized right away
  std::string proto_, body_;
};

// Samples the backlog at the end of every second of a run, on its own thread, until stopped.
class BacklogSampler {
 public:
  BacklogSampler(Nanos start_ns, std::function<std::int64_t()> sample)
      : start_ns_(start_ns), sample_(std::move(sample)), thread_([this] { run(); }) {}
  ~BacklogSampler() { stop(); }

  // The samples taken: [s] = at the end of second s.
  std::vector<std::int64_t> stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return samples_;
  }

 private:
  void run() {
    pthread_setname_np(pthread_self(), "pb-backlog");
    for (std::int64_t s = 1;; ++s) {
      {
        std::unique_lock lock(mutex_);
        const auto at = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(start_ns_ + s * kNanosPerSecond));
        if (cv_.wait_until(lock, at, [this] { return stopping_; })) return;
      }
      const std::int64_t depth = sample_();
      std::lock_guard lock(mutex_);
      samples_.push_back(depth);
    }
  }

  const Nanos start_ns_;
  std::function<std::int64_t()> sample_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;                 // guarded by mutex_
  std::vector<std::int64_t> samples_;     // guarded by mutex_
  std::thread thread_;                    // last: starts once the rest is set
};

class MessagingInstance final : public PathInstance {
 public:
  MessagingInstance(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints)
      : scenario_(scenario), spec_(spec), endpoints_(endpoints) {
    if (!scenario.workers.endpoints.empty())
      throw std::runtime_error("messaging: the consumers are the spawned workers; the workers are external "
                               "([workers] endpoints), so nothing would consume");
    endpoint_ = endpoints.broker_endpoint(spec.via);  // the broker (started on first use), no queue workers
    endpoint_.request_queue = fmt::format("pathbench.messages.{}", spec.label);
    endpoint_.one_way = true;
    endpoint_.durable = spec.durable;
    const bool in_process = spec.via == "embedded" && (scenario.broker.kind != "embedded" || scenario.broker.url == "auto");
    probe_ = mq::make_backlog_probe(endpoint_, in_process ? &endpoints.broker_server().broker() : nullptr);
    const bool needs_db = scenario.query.point_weight > 0 || scenario.query.heavy_weight > 0;
    std::vector<MessageConsumerOptions> options;
    for (int i = 0; i < scenario.workers.count; ++i) {
      MessageConsumerOptions o;
      o.id = fmt::format("msg-{}", i);
      o.db_path = needs_db ? scenario.database.path : std::filesystem::path{};
      o.threads = scenario.broker.consumers > 0 ? scenario.broker.consumers : scenario.workers.threads;
      o.endpoint = endpoint_;
      o.max_age_ns = spec.max_age_ns;
      options.push_back(std::move(o));
    }
    consumers_ = std::make_unique<MessageConsumerGroup>(std::move(options));
    for (int i = 0; i < scenario.load.threads; ++i) books_.push_back(std::make_unique<PublisherBook>());
    endpoints_.attach_worker_faults(*consumers_);  // the scenario's worker faults reach them
  }

  ~MessagingInstance() override {
    sampler_.reset();
    endpoints_.detach_worker_faults(*consumers_);
    consumers_.reset();  // before the broker goes (the topology outlives the instance)
  }

  // Client thread `thread_index`, before the start line: its book starts empty for this run.
  std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, int thread_index) override {
    PublisherBook& book = *books_.at(static_cast<std::size_t>(thread_index));
    book.reset();
    return std::make_unique<MessagingClient>(io, sink, endpoint_, spec_, thread_index, run_, book);
  }

  std::string endpoint() const override {
    return fmt::format("{} ({}, queue {}{})", redact_urls(endpoint_.url), endpoint_.kind, endpoint_.request_queue,
                       endpoint_.durable ? ", durable" : "");
  }

  void run_started(Nanos start_ns) override {
    start_ns_ = start_ns;
    // Where this run starts in each log; consumers restarted during the run (a fault) add logs
    // that start at 0.
    const std::vector<const ConsumeLog*> logs = consumers_->logs();
    cursors_.resize(logs.size());
    for (std::size_t i = 0; i < logs.size(); ++i) cursors_[i] = logs[i]->size();
    const std::vector<std::size_t> begin = cursors_;
    sampler_ = std::make_unique<BacklogSampler>(start_ns, [this, begin] {
      const std::int64_t depth = probe_->depth();
      if (depth >= 0 || endpoint_.kind != "nats") return depth;
      // Core NATS keeps no queue: what was confirmed and not yet consumed.
      std::int64_t confirmed = 0, consumed = 0;
      for (auto& b : books_) confirmed += b->confirmed_count.load(std::memory_order_relaxed);
      const std::vector<const ConsumeLog*> now = consumers_->logs();
      for (std::size_t i = 0; i < now.size(); ++i)
        consumed += static_cast<std::int64_t>(now[i]->size() - (i < begin.size() ? begin[i] : 0));
      return std::max<std::int64_t>(confirmed - consumed, 0);
    });
  }

  void run_finished(PathRunResult& result) override {
    MessageLedger ledger(run_, start_ns_, result.plan);
    for (auto& b : books_)
      for (auto& [key, intended] : b->confirmed) ledger.confirmed(key, intended);
    // Wait for the backlog: every confirmed message consumed, or the drain limit.
    const Nanos end_ns = start_ns_ + (result.plan.empty() ? 0 : result.plan.back().end_ns);
    const Nanos give_up_ns = end_ns + spec_.drain_ns;
    for (;;) {
      const std::vector<const ConsumeLog*> logs = consumers_->logs();
      cursors_.resize(logs.size(), 0);
      for (std::size_t i = 0; i < logs.size(); ++i) ledger.ingest(*logs[i], cursors_[i]);
      if (ledger.missing() == 0 || now_ns() >= give_up_ns) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const Nanos finished_ns = now_ns();
    std::vector<std::int64_t> backlog = sampler_ ? sampler_->stop() : std::vector<std::int64_t>{};
    sampler_.reset();
    const bool drained = ledger.missing() == 0;
    ledger.fill(result.phases);
    std::int64_t backlog_max = -1;
    for (auto d : backlog) backlog_max = std::max(backlog_max, d);
    for (auto& p : result.phases) {
      p.messaging.backlog_max = backlog_max;
      p.messaging.drain_ns = drained ? std::max<Nanos>(ledger.last_consumed_ns() - end_ns, 0) : -1;
    }
    // Seconds of the drain get rows of their own; every row gets the backlog and consume rate.
    const auto seconds = static_cast<std::size_t>(
        std::max<std::int64_t>(static_cast<std::int64_t>(result.intervals.size()),
                               (finished_ns - start_ns_ + kNanosPerSecond - 1) / kNanosPerSecond));
    for (std::size_t s = result.intervals.size(); s < seconds; ++s) {
      IntervalRow row;
      row.phase = "drain";
      row.second = static_cast<std::int64_t>(s);
      result.intervals.push_back(row);
    }
    const std::vector<std::int64_t> consumed = ledger.consumed_per_second(seconds);
    for (auto& row : result.intervals) {
      const auto s = static_cast<std::size_t>(row.second);
      row.backlog = s < backlog.size() ? backlog[s] : -1;
      row.consumed = s < consumed.size() ? consumed[s] : 0;
    }
    result.elapsed_ns = std::max(result.elapsed_ns, finished_ns - start_ns_);
    run_ = (run_ + 1) & 0xffu;
    if (run_ == 0) run_ = 1;
  }

 private:
  const Scenario& scenario_;
  const PathSpec& spec_;
  Endpoints& endpoints_;
  mq::Endpoint endpoint_;
  std::unique_ptr<mq::BacklogProbe> probe_;
  std::unique_ptr<MessageConsumerGroup> consumers_;   // the workers' consumers, faults attached
  std::vector<std::unique_ptr<PublisherBook>> books_;  // [i]: client thread i's
  std::vector<std::size_t> cursors_;  // runner's thread: how far each of consumers_->logs() was read
  std::unique_ptr<BacklogSampler> sampler_;
  std::uint32_t run_ = 1;                          // written between runs only
  Nanos start_ns_ = 0;
};

}  // namespace

std::unique_ptr<PathInstance> create_messaging(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  return std::make_unique<MessagingInstance>(scenario, spec, endpoints);
}

}  // namespace pathbench
