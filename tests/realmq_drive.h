// Shared by tests/test_realmq.cpp and bench/figures.cpp: private real-broker servers started on
// first use (one per kind per process, mq::BrokerProcess), echo responders, and a closed-loop
// driver of a Requester on the caller's own io_context. Test-only code: it allocates freely.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/outcome.h"
#include "mq/backends.h"
#include "mq/server_process.h"

namespace pathbench::testing::realmq {

using namespace pathbench::mq;

inline std::optional<BrokerProcess>& server_slot(const std::string& kind) {
  static std::map<std::string, std::optional<BrokerProcess>> servers;
  return servers[kind];
}

inline BrokerProcess& shared_server(const std::string& kind) {
  auto& slot = server_slot(kind);
  if (!slot || !slot->running()) slot.emplace(BrokerProcess::start(kind));
  return *slot;
}

inline Endpoint endpoint_for(const std::string& kind, const std::string& queue, int max_pending = 10000) {
  Endpoint e;
  e.kind = kind;
  e.url = shared_server(kind).url();
  e.request_queue = queue;
  e.max_pending = max_pending;
  e.timeout_ns = 5 * kNanosPerSecond;
  e.heartbeat_ns = 10 * kNanosPerSecond;
  return e;
}

inline std::unique_ptr<Requester> make_requester_for(const Endpoint& e, boost::asio::io_context& io, Requester::OnReply on_reply) {
  return e.kind == "rabbitmq" ? make_rabbitmq_requester(e, io, std::move(on_reply), 0)
                              : make_nats_requester(e, io, std::move(on_reply), 0);
}

inline Responder::HandlerFactory echo_handlers(int delay_ms = 0) {
  return [delay_ms](int) {
    return [delay_ms](std::string_view body) {
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      return std::string(body);
    };
  };
}

inline std::unique_ptr<Responder> make_responder_for(const Endpoint& e, int threads, Responder::HandlerFactory handlers,
                                                     const std::string& id = "t") {
  return e.kind == "rabbitmq" ? make_rabbitmq_responder(e, threads, std::move(handlers), id)
                              : make_nats_responder(e, threads, std::move(handlers), id);
}

inline std::string body_of(std::uint64_t id) { return fmt::format("request-{}", id); }

// A closed-loop driver on the test's own io_context: `count` requests, at most `in_flight` out,
// until every request has its outcome or `limit_ns` passes. `on_progress(answered, outcome)` runs on the
// io thread after each outcome (for fault injection); when it returns false no more requests are
// issued and the drive ends once those out are answered.
struct Drive {
  std::map<std::uint64_t, std::vector<std::pair<Outcome, std::string>>> answers;
  std::vector<Nanos> latencies_ns;  // ok replies only
  std::uint64_t issued = 0, answered = 0, duplicates = 0;
  Nanos elapsed_ns = 0;
  std::string start_error;

  std::uint64_t count(Outcome o) const {
    std::uint64_t n = 0;
    for (auto& [id, list] : answers)
      for (auto& a : list) n += a.first == o;
    return n;
  }
};

inline Drive drive(const Endpoint& e, std::uint64_t count, std::uint64_t in_flight, Nanos limit_ns,
                   std::function<bool(std::uint64_t answered, Outcome outcome)> on_progress = {}) {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);  // replies arrive by post from other threads
  Drive d;
  std::map<std::uint64_t, Nanos> sent_at;
  std::unique_ptr<Requester> requester;
  bool started = false, closed = false;
  auto issue_more = [&] {
    while (started && !closed && d.issued < count && d.issued - d.answered < in_flight) {
      std::uint64_t id = ++d.issued;
      sent_at[id] = now_ns();
      requester->request(id, body_of(id));
    }
  };
  requester = make_requester_for(e, io, [&](std::uint64_t id, Outcome outcome, std::string_view body) {
    d.answers[id].emplace_back(outcome, std::string(body));
    if (outcome == Outcome::ok) d.latencies_ns.push_back(now_ns() - sent_at[id]);
    ++d.answered;
    if (on_progress && !on_progress(d.answered, outcome)) closed = true;
    issue_more();
  });
  const Nanos t0 = now_ns();
  requester->start([&](std::string error) {
    d.start_error = error;
    started = error.empty();
    issue_more();
  });
  const Nanos deadline = t0 + limit_ns;
  while (d.answered < (closed ? d.issued : count) && d.start_error.empty() && now_ns() < deadline)
    io.run_for(std::chrono::milliseconds(5));
  d.elapsed_ns = now_ns() - t0;
  d.duplicates = requester->duplicates();
  requester->stop();
  return d;
}

inline Nanos percentile(std::vector<Nanos> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

}  // namespace pathbench::testing::realmq
