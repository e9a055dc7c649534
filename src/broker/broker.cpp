#include "broker/broker.h"

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <condition_variable>
#include <deque>

namespace pathbench::broker {

namespace {

struct Ready {
  MessagePtr message;
  bool redelivered = false;
};

struct Unacked {
  std::uint64_t tag = 0;
  MessagePtr message;
};

// The latency histogram is per queue and every client declares a reply queue, so it is kept
// small: 1 ns .. 60 s at 2 significant digits (about 30 KiB).
constexpr std::int64_t kLatencyHighestNs = 60 * kNanosPerSecond;
constexpr int kLatencyDigits = 2;
constexpr int kMaxPrefetch = 65535;

}  // namespace

class Consumer {
 public:
  Consumer(std::uint64_t id_, std::shared_ptr<Broker::Queue> queue_, const ConsumeOptions& options_,
           DeliveryCallback callback_)
      : id(id_), queue(std::move(queue_)), options(options_), callback(std::move(callback_)) {}

  // Immutable after construction: read without the queue's lock (the callback is invoked unlocked).
  const std::uint64_t id;
  const std::shared_ptr<Broker::Queue> queue;
  const ConsumeOptions options;
  const DeliveryCallback callback;

  // Guarded by queue->mutex. Few entries (at most prefetch), acked mostly oldest first: a vector
  // searched from the front beats a node-based map here and allocates only while it grows.
  bool active = true;
  std::vector<Unacked> unacked;

  bool has_credit() const noexcept {
    return options.auto_ack || unacked.size() < static_cast<std::size_t>(options.prefetch);
  }
};

std::uint64_t consumer_id(const Consumer& consumer) noexcept { return consumer.id; }

struct Broker::Queue {
  Queue(std::string name_, int max_pending_, SessionId owner_)
      : name(std::move(name_)), max_pending(max_pending_), owner(owner_),
        latency_ns(kLatencyHighestNs, kLatencyDigits) {}

  const std::string name;
  const int max_pending;
  const SessionId owner;

  std::mutex mutex;  // guards everything below and the Consumers' mutable parts
  std::condition_variable ready_cv;  // for get(): waited on only by blocked getters
  int waiting_getters = 0;
  std::deque<Ready> ready;
  std::vector<ConsumerPtr> consumers;
  std::size_t next_consumer = 0;  // round robin among consumers with credit
  std::uint64_t next_tag = 1;
  bool paused = false;
  bool deleted = false;
  std::uint64_t unacked = 0;
  std::uint64_t enqueued = 0, rejected = 0, delivered = 0, acked = 0, redelivered = 0, discarded = 0;
  Histogram latency_ns;
};

struct Broker::Subject {
  struct Subscriber {
    std::uint64_t id = 0;
    std::deque<MessagePtr> pending;
  };
  std::vector<Subscriber> subscribers;
  std::uint64_t published = 0, rejected = 0, fetched = 0;
};

namespace {

// Deliveries collected under a queue's lock and handed to the callbacks after it is released.
// Almost always one; the inline capacity keeps the publish path free of an extra allocation.
using Batch = boost::container::small_vector<std::pair<ConsumerPtr, Delivery>, 4>;

void run_callbacks(Batch& batch) {
  for (auto& [consumer, delivery] : batch) consumer->callback(consumer, std::move(delivery));
}

// Hands ready messages to consumers with credit, round robin. Caller holds q.mutex.
void dispatch_locked(Broker::Queue& q, Batch& batch) {
  if (q.paused || q.consumers.empty() || q.ready.empty()) return;
  const Nanos now = now_ns();
  const std::size_t n = q.consumers.size();
  while (!q.ready.empty()) {
    Consumer* chosen = nullptr;
    std::size_t index = q.next_consumer % n;
    for (std::size_t i = 0; i < n; ++i, index = (index + 1) % n) {
      if (q.consumers[index]->has_credit()) {
        chosen = q.consumers[index].get();
        break;
      }
    }
    if (!chosen) return;
    q.next_consumer = index + 1;
    Ready entry = std::move(q.ready.front());
    q.ready.pop_front();
    const std::uint64_t tag = q.next_tag++;
    ++q.delivered;
    q.latency_ns.record(now - entry.message->published_ns);
    if (chosen->options.auto_ack) {
      ++q.acked;
    } else {
      chosen->unacked.push_back({tag, entry.message});
      ++q.unacked;
    }
    batch.emplace_back(q.consumers[index], Delivery{tag, entry.redelivered, std::move(entry.message)});
  }
}

// Puts a consumer's unacknowledged messages back at the head, oldest first. Caller holds q.mutex.
void requeue_all_locked(Broker::Queue& q, Consumer& c) {
  for (auto it = c.unacked.rbegin(); it != c.unacked.rend(); ++it) q.ready.push_front({std::move(it->message), true});
  q.redelivered += c.unacked.size();
  q.unacked -= c.unacked.size();
  c.unacked.clear();
}

bool take_ready_locked(Broker::Queue& q, Delivery& out) {
  if (q.paused || q.ready.empty()) return false;
  Ready entry = std::move(q.ready.front());
  q.ready.pop_front();
  ++q.delivered;
  ++q.acked;
  q.latency_ns.record(now_ns() - entry.message->published_ns);
  out = Delivery{q.next_tag++, entry.redelivered, std::move(entry.message)};
  return true;
}

}  // namespace

std::string_view to_string(Status status) noexcept {
  switch (status) {
    case Status::ok: return "ok";
    case Status::overflow: return "broker overflow";
    case Status::no_queue: return "no such queue";
    case Status::no_subscriber: return "subscriber not found";
    case Status::empty: return "queue empty";
    case Status::precondition_failed: return "precondition failed";
    case Status::unknown_consumer: return "unknown consumer";
    case Status::unknown_delivery_tag: return "unknown delivery tag";
    case Status::malformed: return "malformed frame";
    case Status::too_large: return "frame too large";
  }
  return "unknown status";
}

Broker::Broker(const BrokerOptions& options) : options_(options) {}

Broker::~Broker() {
  // Break the queue <-> consumer reference cycles; fronts are gone by now.
  for (auto& [name, q] : queues_) {
    std::lock_guard lock(q->mutex);
    for (auto& c : q->consumers) {
      c->active = false;
      c->unacked.clear();
    }
    q->consumers.clear();
    q->deleted = true;
  }
}

std::shared_ptr<Broker::Queue> Broker::find_queue(std::string_view name) const {
  std::shared_lock lock(maps_mutex_);
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : it->second;
}

// --- sessions

SessionId Broker::open_session() {
  std::unique_lock lock(maps_mutex_);
  return next_session_++;
}

void Broker::close_session(SessionId session) {
  std::vector<std::weak_ptr<Consumer>> consumers;
  std::vector<std::string> queues;
  {
    std::unique_lock lock(maps_mutex_);
    if (auto it = session_consumers_.find(session); it != session_consumers_.end()) {
      consumers = std::move(it->second);
      session_consumers_.erase(it);
    }
    if (auto it = session_queues_.find(session); it != session_queues_.end()) {
      queues = std::move(it->second);
      session_queues_.erase(it);
    }
  }
  for (auto& weak : consumers)
    if (auto c = weak.lock()) cancel(*c);
  for (auto& name : queues) delete_queue(name);
}

// --- queues

Status Broker::declare(std::string_view name, const QueueOptions& options) {
  if (options.max_pending < 0 || name.empty()) return Status::precondition_failed;
  const int max_pending = options.max_pending == 0 ? options_.default_max_pending : options.max_pending;
  std::unique_lock lock(maps_mutex_);
  if (auto it = queues_.find(name); it != queues_.end()) {
    const auto& q = *it->second;
    return q.max_pending == max_pending && q.owner == options.exclusive_owner ? Status::ok
                                                                            : Status::precondition_failed;
  }
  queues_.emplace(std::string(name), std::make_shared<Queue>(std::string(name), max_pending, options.exclusive_owner));
  if (options.exclusive_owner != 0) session_queues_[options.exclusive_owner].emplace_back(name);
  return Status::ok;
}

Status Broker::delete_queue(std::string_view name) {
  std::shared_ptr<Queue> q;
  {
    std::unique_lock lock(maps_mutex_);
    auto it = queues_.find(name);
    if (it == queues_.end()) return Status::no_queue;
    q = std::move(it->second);
    queues_.erase(it);
  }
  std::lock_guard lock(q->mutex);
  q->deleted = true;
  for (auto& c : q->consumers) {
    c->active = false;
    q->discarded += c->unacked.size();
    c->unacked.clear();
  }
  q->consumers.clear();
  q->discarded += q->ready.size();
  q->ready.clear();
  q->unacked = 0;
  q->ready_cv.notify_all();
  return Status::ok;
}

Status Broker::publish(std::string_view name, Message message) {
  auto q = find_queue(name);
  if (!q) {
    no_queue_.fetch_add(1, std::memory_order_relaxed);
    return Status::no_queue;
  }
  message.message_id = next_message_id_.fetch_add(1, std::memory_order_relaxed);
  message.published_ns = now_ns();
  auto ptr = std::make_shared<const Message>(std::move(message));
  Batch batch;
  {
    std::lock_guard lock(q->mutex);
    if (q->deleted) return Status::no_queue;
    if (q->ready.size() >= static_cast<std::size_t>(q->max_pending)) {
      ++q->rejected;
      return Status::overflow;
    }
    q->ready.push_back({std::move(ptr), false});
    ++q->enqueued;
    dispatch_locked(*q, batch);
    if (q->waiting_getters > 0 && !q->ready.empty()) q->ready_cv.notify_one();
  }
  run_callbacks(batch);
  return Status::ok;
}

Status Broker::consume(std::string_view name, const ConsumeOptions& options, DeliveryCallback callback,
                       ConsumerPtr& consumer_out) {
  if (!options.auto_ack && (options.prefetch < 1 || options.prefetch > kMaxPrefetch)) return Status::precondition_failed;
  if (!callback) return Status::precondition_failed;
  auto q = find_queue(name);
  if (!q) return Status::no_queue;
  ConsumerPtr consumer;
  {
    std::unique_lock lock(maps_mutex_);
    consumer = std::make_shared<Consumer>(next_consumer_id_++, q, options, std::move(callback));
    if (options.session != 0) {
      auto& list = session_consumers_[options.session];
      std::erase_if(list, [](const std::weak_ptr<Consumer>& w) { return w.expired(); });
      list.push_back(consumer);
    }
  }
  Batch batch;
  {
    std::lock_guard lock(q->mutex);
    if (q->deleted) return Status::no_queue;
    q->consumers.push_back(consumer);
    dispatch_locked(*q, batch);
  }
  consumer_out = consumer;
  run_callbacks(batch);
  return Status::ok;
}

Status Broker::ack(Consumer& consumer, std::uint64_t delivery_tag) {
  Queue& q = *consumer.queue;
  Batch batch;
  {
    std::lock_guard lock(q.mutex);
    if (!consumer.active) return Status::unknown_consumer;
    auto& list = consumer.unacked;
    auto it = std::find_if(list.begin(), list.end(), [&](const Unacked& u) { return u.tag == delivery_tag; });
    if (it == list.end()) return Status::unknown_delivery_tag;
    list.erase(it);
    --q.unacked;
    ++q.acked;
    dispatch_locked(q, batch);
  }
  run_callbacks(batch);
  return Status::ok;
}

Status Broker::nack(Consumer& consumer, std::uint64_t delivery_tag, bool requeue) {
  Queue& q = *consumer.queue;
  Batch batch;
  {
    std::lock_guard lock(q.mutex);
    if (!consumer.active) return Status::unknown_consumer;
    auto& list = consumer.unacked;
    auto it = std::find_if(list.begin(), list.end(), [&](const Unacked& u) { return u.tag == delivery_tag; });
    if (it == list.end()) return Status::unknown_delivery_tag;
    MessagePtr message = std::move(it->message);
    list.erase(it);
    --q.unacked;
    if (requeue) {
      q.ready.push_front({std::move(message), true});
      ++q.redelivered;
      if (q.waiting_getters > 0) q.ready_cv.notify_one();
    } else {
      ++q.discarded;
    }
    dispatch_locked(q, batch);
  }
  run_callbacks(batch);
  return Status::ok;
}

Status Broker::cancel(Consumer& consumer) {
  Queue& q = *consumer.queue;
  Batch batch;
  {
    std::lock_guard lock(q.mutex);
    if (!consumer.active) return Status::unknown_consumer;
    consumer.active = false;
    std::erase_if(q.consumers, [&](const ConsumerPtr& c) { return c.get() == &consumer; });
    requeue_all_locked(q, consumer);
    dispatch_locked(q, batch);
    if (q.waiting_getters > 0 && !q.ready.empty()) q.ready_cv.notify_all();
  }
  run_callbacks(batch);
  return Status::ok;
}

Status Broker::try_get(std::string_view name, Delivery& out) {
  auto q = find_queue(name);
  if (!q) return Status::no_queue;
  std::lock_guard lock(q->mutex);
  if (q->deleted) return Status::no_queue;
  return take_ready_locked(*q, out) ? Status::ok : Status::empty;
}

Status Broker::get(std::string_view name, Nanos timeout_ns, Delivery& out) {
  auto q = find_queue(name);
  if (!q) return Status::no_queue;
  std::unique_lock lock(q->mutex);
  // Clamped so that now + timeout cannot overflow the clock's representation.
  const Nanos bounded_ns = std::clamp<Nanos>(timeout_ns, 0, 24 * 3600 * kNanosPerSecond);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(bounded_ns);
  ++q->waiting_getters;
  while (!q->deleted && !take_ready_locked(*q, out)) {
    if (q->ready_cv.wait_until(lock, deadline) == std::cv_status::timeout) {
      const bool got = !q->deleted && take_ready_locked(*q, out);
      --q->waiting_getters;
      return got ? Status::ok : (q->deleted ? Status::no_queue : Status::empty);
    }
  }
  --q->waiting_getters;
  return q->deleted ? Status::no_queue : Status::ok;
}

Status Broker::set_paused(std::string_view name, bool paused) {
  auto q = find_queue(name);
  if (!q) return Status::no_queue;
  Batch batch;
  {
    std::lock_guard lock(q->mutex);
    q->paused = paused;
    if (!paused) {
      dispatch_locked(*q, batch);
      if (q->waiting_getters > 0 && !q->ready.empty()) q->ready_cv.notify_all();
    }
  }
  run_callbacks(batch);
  return Status::ok;
}

// --- subjects

Status Broker::subscribe(std::string_view name, std::uint64_t& subscriber_id_out) {
  if (name.empty()) return Status::precondition_failed;
  std::lock_guard lock(subjects_mutex_);
  auto it = subjects_.find(name);
  if (it == subjects_.end()) it = subjects_.emplace(std::string(name), std::make_shared<Subject>()).first;
  subscriber_id_out = next_subscriber_id_++;
  it->second->subscribers.push_back({subscriber_id_out, {}});
  return Status::ok;
}

Status Broker::unsubscribe(std::string_view name, std::uint64_t subscriber_id) {
  std::lock_guard lock(subjects_mutex_);
  auto it = subjects_.find(name);
  if (it == subjects_.end()) return Status::no_subscriber;
  auto& subs = it->second->subscribers;
  auto found = std::find_if(subs.begin(), subs.end(), [&](const auto& s) { return s.id == subscriber_id; });
  if (found == subs.end()) return Status::no_subscriber;
  subs.erase(found);
  return Status::ok;
}

Status Broker::publish_subject(std::string_view name, Message message) {
  message.message_id = next_message_id_.fetch_add(1, std::memory_order_relaxed);
  message.published_ns = now_ns();
  std::lock_guard lock(subjects_mutex_);
  auto it = subjects_.find(name);
  if (it == subjects_.end() || it->second->subscribers.empty()) {
    no_subscriber_.fetch_add(1, std::memory_order_relaxed);
    return Status::no_subscriber;
  }
  Subject& subject = *it->second;
  const auto limit = static_cast<std::size_t>(options_.default_max_pending);
  for (const auto& s : subject.subscribers) {
    if (s.pending.size() >= limit) {
      ++subject.rejected;
      return Status::overflow;
    }
  }
  auto ptr = std::make_shared<const Message>(std::move(message));
  for (auto& s : subject.subscribers) s.pending.push_back(ptr);
  ++subject.published;
  return Status::ok;
}

Status Broker::fetch(std::string_view name, std::uint64_t subscriber_id, std::vector<MessagePtr>& out,
                     std::size_t max_messages) {
  std::lock_guard lock(subjects_mutex_);
  auto it = subjects_.find(name);
  if (it == subjects_.end()) return Status::no_subscriber;
  Subject& subject = *it->second;
  auto found = std::find_if(subject.subscribers.begin(), subject.subscribers.end(),
                            [&](const auto& s) { return s.id == subscriber_id; });
  if (found == subject.subscribers.end()) return Status::no_subscriber;
  while (!found->pending.empty() && max_messages-- > 0) {
    out.push_back(std::move(found->pending.front()));
    found->pending.pop_front();
    ++subject.fetched;
  }
  return Status::ok;
}

// --- instrumentation

namespace {

QueueStats snapshot_locked(const Broker::Queue& q) {
  QueueStats s;
  s.name = q.name;
  s.depth = q.ready.size();
  s.unacked = q.unacked;
  s.consumers = q.consumers.size();
  s.enqueued = q.enqueued;
  s.rejected = q.rejected;
  s.delivered = q.delivered;
  s.acked = q.acked;
  s.redelivered = q.redelivered;
  s.discarded = q.discarded;
  s.paused = q.paused;
  s.publish_to_delivery_ns = q.latency_ns;
  return s;
}

}  // namespace

Status Broker::queue_stats(std::string_view name, QueueStats& out) const {
  auto q = find_queue(name);
  if (!q) return Status::no_queue;
  std::lock_guard lock(q->mutex);
  out = snapshot_locked(*q);
  return Status::ok;
}

BrokerStats Broker::stats() const {
  std::vector<std::shared_ptr<Queue>> queues;
  {
    std::shared_lock lock(maps_mutex_);
    for (const auto& [name, q] : queues_) queues.push_back(q);
  }
  BrokerStats out;
  for (const auto& q : queues) {
    std::lock_guard lock(q->mutex);
    out.queues.push_back(snapshot_locked(*q));
  }
  std::sort(out.queues.begin(), out.queues.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  {
    std::lock_guard lock(subjects_mutex_);
    for (const auto& [name, subject] : subjects_) {
      SubjectStats s;
      s.subject = name;
      s.subscribers = subject->subscribers.size();
      for (const auto& sub : subject->subscribers) s.pending += sub.pending.size();
      s.published = subject->published;
      s.rejected = subject->rejected;
      s.fetched = subject->fetched;
      out.subjects.push_back(std::move(s));
    }
  }
  std::sort(out.subjects.begin(), out.subjects.end(), [](const auto& a, const auto& b) { return a.subject < b.subject; });
  out.no_queue = no_queue_.load(std::memory_order_relaxed);
  out.no_subscriber = no_subscriber_.load(std::memory_order_relaxed);
  return out;
}

}  // namespace pathbench::broker
