// The requester-side bookkeeping shared by every queue backend (mq/embedded.cpp, mq/rabbitmq.cpp,
// mq/nats.cpp): which correlation ids are out, exactly one on_reply per id, duplicates counted, and
// the hop from the library's threads to the requester's io_context.
//
// Threads: issue(), stop(), settle(), settle_all() and the on_reply callbacks run on the
// io_context's thread only. deliver() (and reply/fail/fail_all) may be called from any thread (the
// backend's I/O thread, nats.c's callback threads); events are collected in a mailbox and handed
// to the io_context with one boost::asio::post per batch, so a burst of replies costs one post,
// not one each. A backend whose events already arrive on the io_context's thread (the embedded
// broker's native client) settles them directly with settle()/settle_all(). Held by shared_ptr:
// a post that runs after the Requester is gone still finds the book, sees it stopped, and does
// nothing.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/outcome.h"
#include "mq/mq.h"

namespace pathbench::mq::detail {

class ReplyBook : public std::enable_shared_from_this<ReplyBook> {
 public:
  enum class Kind : std::uint8_t {
    reply,     // the broker delivered a reply: a second one for the same id is a duplicate
    failure,   // the backend decided this request's outcome (nack, return, unavailable, ...)
    fail_all,  // the connection broke: every id still out ends with `outcome`
  };
  struct Event {
    Kind kind = Kind::reply;
    std::uint64_t correlation_id = 0;
    Outcome outcome = Outcome::ok;
    std::string body;
  };

  ReplyBook(boost::asio::io_context& io, Requester::OnReply on_reply) : io_(io), on_reply_(std::move(on_reply)) {
    outstanding_.reserve(1024);
  }

  // io thread: `id` is now out and owed exactly one outcome.
  void issue(std::uint64_t correlation_id) { outstanding_.insert(correlation_id); }
  // io thread: no on_reply from here on.
  void stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }
  std::uint64_t duplicates() const noexcept { return duplicates_.load(std::memory_order_relaxed); }

  // Any thread.
  void deliver(Event event) {
    bool schedule;
    {
      std::lock_guard lock(mutex_);
      schedule = inbox_.empty();
      inbox_.push_back(std::move(event));
    }
    if (schedule) post_drain();
  }
  void deliver(std::vector<Event>& events) {  // moves the events out, leaves `events` empty
    if (events.empty()) return;
    bool schedule;
    {
      std::lock_guard lock(mutex_);
      schedule = inbox_.empty();
      if (schedule) inbox_.swap(events);
      else
        for (auto& e : events) inbox_.push_back(std::move(e));
    }
    events.clear();
    if (schedule) post_drain();
  }
  void reply(std::uint64_t id, std::string body) { deliver(Event{Kind::reply, id, Outcome::ok, std::move(body)}); }
  void fail(std::uint64_t id, Outcome outcome) { deliver(Event{Kind::failure, id, outcome, {}}); }
  void fail_all(Outcome outcome) { deliver(Event{Kind::fail_all, 0, outcome, {}}); }

  // io thread, now (no mailbox): the event's outcome for its id, if the id is still out; a reply
  // for an id already answered counts as a duplicate. on_reply may run before this returns.
  void settle(Kind kind, std::uint64_t correlation_id, Outcome outcome, std::string_view body) {
    if (stopped_) return;
    if (kind == Kind::fail_all) return settle_all(outcome);
    if (outstanding_.erase(correlation_id) == 0) {
      // Already answered. A second broker reply is a duplicate; a late failure for an id that
      // already ended (e.g. "unavailable" after the connection-lost sweep) is not news.
      if (kind == Kind::reply) duplicates_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    on_reply_(correlation_id, outcome, outcome == Outcome::ok ? body : std::string_view());
  }
  // io thread, now: every id still out ends with `outcome` (stops early if on_reply stops the book).
  void settle_all(Outcome outcome) {
    // on_reply may call Requester::request() (closed loop), which calls issue(): never iterate
    // outstanding_ while calling out.
    std::vector<std::uint64_t> ids(outstanding_.begin(), outstanding_.end());
    outstanding_.clear();
    for (auto id : ids) {
      if (stopped_) break;
      on_reply_(id, outcome, {});
    }
  }

 private:
  void post_drain() {
    boost::asio::post(io_, [self = shared_from_this()] { self->drain(); });
  }

  // io thread.
  void drain() {
    {
      std::lock_guard lock(mutex_);
      batch_.swap(inbox_);
    }
    for (auto& e : batch_) {
      if (stopped_) break;
      settle(e.kind, e.correlation_id, e.outcome, e.body);
    }
    batch_.clear();
  }

  boost::asio::io_context& io_;
  Requester::OnReply on_reply_;
  // io thread only
  std::unordered_set<std::uint64_t> outstanding_;
  std::vector<Event> batch_;
  bool stopped_ = false;
  std::atomic<std::uint64_t> duplicates_{0};
  // mailbox, any thread
  std::mutex mutex_;
  std::vector<Event> inbox_;
};

// Thread names are at most 15 characters: "pb-" + as much of `id` as fits + "-" + suffix
// ("pb-w1-amqp0"), or "pb-" + suffix when there is no id ("pb-amqp-c3").
inline std::string thread_name(std::string_view id, std::string_view suffix) {
  std::string name = "pb-";
  if (!id.empty() && suffix.size() < 11) {
    name.append(id.substr(0, 11 - suffix.size()));
    name.push_back('-');
  }
  name.append(suffix);
  if (name.size() > 15) name.resize(15);
  return name;
}

}  // namespace pathbench::mq::detail
