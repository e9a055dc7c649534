// A fake transport for load-generator tests: a single-server FIFO queue with a service
// time, scripted failures, silence, stalls and late replies. Deterministic by request index.
#pragma once
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>

#include "paths/registry.h"

namespace pathbench::testing {

struct FakeBehaviour {
  Nanos service_ns = 10'000;            // per request, one at a time (a single server)
  std::int64_t error_every = 0;         // every n-th request fails with `error`
  Outcome error = Outcome::server_error;
  std::int64_t silent_every = 0;        // every n-th request never gets a reply
  std::int64_t stall_at = -1;           // this request index makes the server stall for stall_ns
  Nanos stall_ns = 0;
  bool fail_inside_issue = false;       // complete from inside issue() with `error`
  Nanos ok_inside_issue_after_ns = 0;   // > 0: hold the thread this long in issue(), then complete ok inline
  Nanos late_reply_ns = 0;              // silent requests reply after this long (0: never)
  std::string connect_error;            // non-empty: start() fails with it
};

class FakeClient final : public PathClient {
 public:
  FakeClient(boost::asio::io_context& io, CompletionSink& sink, const FakeBehaviour& b)
      : io_(io), sink_(sink), b_(b) {}
  void start(std::function<void(std::string)> done) override {
    boost::asio::post(io_, [done, e = b_.connect_error] { done(e); });
  }
  void issue(std::uint32_t slot, std::uint64_t id, const Query&) override {
    std::int64_t index = issued_++;
    if (b_.fail_inside_issue) return sink_.complete(slot, id, b_.error);
    if (b_.ok_inside_issue_after_ns > 0) {
      for (Nanos until = now_ns() + b_.ok_inside_issue_after_ns; now_ns() < until;) {
      }
      return sink_.complete(slot, id, Outcome::ok);
    }
    Nanos now = now_ns();
    Nanos finish = std::max(now, server_free_at_) + b_.service_ns + (index == b_.stall_at ? b_.stall_ns : 0);
    server_free_at_ = finish;
    Outcome outcome = Outcome::ok;
    if (b_.error_every > 0 && (index + 1) % b_.error_every == 0) outcome = b_.error;
    if (b_.silent_every > 0 && (index + 1) % b_.silent_every == 0) {
      if (b_.late_reply_ns == 0) return;
      finish = now + b_.late_reply_ns;
    }
    auto timer = std::make_shared<boost::asio::steady_timer>(
        io_, boost::asio::steady_timer::time_point(std::chrono::nanoseconds(finish)));
    timers_.push_back(timer);
    timer->async_wait([this, timer, slot, id, outcome](boost::system::error_code ec) {
      if (!ec) sink_.complete(slot, id, outcome);
    });
  }
  void stop() override {
    for (auto& t : timers_)
      if (auto p = t.lock()) p->cancel();
  }

 private:
  boost::asio::io_context& io_;
  CompletionSink& sink_;
  FakeBehaviour b_;
  std::int64_t issued_ = 0;
  Nanos server_free_at_ = 0;
  std::vector<std::weak_ptr<boost::asio::steady_timer>> timers_;
};

class FakeInstance final : public PathInstance {
 public:
  explicit FakeInstance(FakeBehaviour b) : b_(std::move(b)) {}
  std::unique_ptr<PathClient> make_client(boost::asio::io_context& io, CompletionSink& sink, int) override {
    return std::make_unique<FakeClient>(io, sink, b_);
  }
  std::string endpoint() const override { return "fake://"; }

 private:
  FakeBehaviour b_;
};

inline const PathInfo& fake_path_info() {
  static const PathInfo info{"fake", "direct", "a scripted fake transport", false, nullptr};
  return info;
}

inline Scenario fake_scenario(LoadMode mode, double rate, int concurrency, Nanos duration, Nanos warmup = 0,
                              int threads = 1, Nanos deadline = 2 * kNanosPerSecond) {
  Scenario s;
  s.name = "fake";
  s.load.mode = mode;
  s.load.rate_per_s = rate;
  s.load.concurrency = concurrency;
  s.load.duration_ns = duration;
  s.load.warmup_ns = warmup;
  s.load.threads = threads;
  s.load.deadline_ns = deadline;
  s.query.echo_weight = 1;
  s.query.heavy_weight = 0;
  PathSpec spec;
  spec.kind = "fake";
  spec.label = "fake";
  spec.via = "direct";
  s.paths.push_back(spec);
  return s;
}

}  // namespace pathbench::testing
