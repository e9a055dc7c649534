// What every front of the balancer (gRPC unary, gRPC stream, WebSocket) shares about forwarding
// a request to a worker, apart from the transport:
//   - BalancerCounters: the balancer's request counters;
//   - ForwardTable: the requests forwarded over one multiplexed balancer -> worker link (a gRPC
//     stream, or the WebSocket front's connections), under the id they carry to the worker, with
//     the deadline sweep (every kForwardSweepNs) and the failure of everything on a broken link;
//   - the retry-once policy (may_forward_again);
//   - forward_error_reply(): the QueryReply a client gets when the balancer answers for the worker.
//
// How each end is reported to BalancerCore (its release() once per routed request): a worker's
// answer by its status (backend_result_of_status), an expired request as a failure, a request on
// a broken link, or one that could not be sent, as a transport failure.
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace pathbench {

namespace v1 {
class QueryReply;
}

// The balancer's request counters, shared by its fronts: received (every request), forwarded
// (sent to a worker; a retry is not counted again), rejected (admission: RESOURCE_EXHAUSTED),
// unavailable (no healthy worker, or it could not be sent).
struct BalancerCounters {
  std::atomic<std::uint64_t> received{0}, forwarded{0}, rejected{0}, unavailable{0};
};

// How often each front fails forwarded requests whose deadline has passed.
inline constexpr Nanos kForwardSweepNs = 50 * kNanosPerMilli;

// A request that never reached a worker (nothing could be sent, or the worker could not be
// reached: UNAVAILABLE before any answer) is routed once more — wherever the core then picks —
// while its deadline leaves room. `attempts`: attempts made so far, the first included.
inline constexpr int kMaxForwardAttempts = 2;
inline bool may_forward_again(int attempts, Nanos now_ns, Nanos deadline_ns) noexcept {
  return attempts < kMaxForwardAttempts && now_ns < deadline_ns;
}

// The reply the balancer sends in the worker's place: the client's request id and a status
// (gRPC code numbers, as QueryReply.status carries them everywhere).
v1::QueryReply forward_error_reply(std::uint64_t client_request_id, int code, std::string_view message);

// One forwarded request: whom to answer (the front's handle on its client), under which id,
// when it arrived and must be answered by (steady ns), and the backend the core routed it to.
template <class Client>
struct Forwarded {
  Client client;
  std::uint64_t client_request_id = 0;
  Nanos received_ns = 0;
  Nanos deadline_ns = 0;
  int backend = -1;
};

// The table of one link (or one front's links). Entry: a Forwarded<...> or a type derived from
// it. Not thread-safe: its owner serializes the calls (a mutex, or one io thread), and answers
// the entries it takes out after letting go of its lock. No allocation per request once the
// table has reached its working size, beyond the hash map's nodes.
template <class Entry>
class ForwardTable {
 public:
  // Adds `entry` and returns the id to send it under (unique within this table).
  std::uint64_t add(Entry entry) {
    const std::uint64_t id = next_id_++;
    entries_.emplace(id, std::move(entry));
    return id;
  }
  // The worker answered `id`: its entry, or nothing when it was expired or failed already.
  std::optional<Entry> take(std::uint64_t id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return std::nullopt;
    std::optional<Entry> entry(std::move(it->second));
    entries_.erase(it);
    return entry;
  }
  // Removes `id` (never sent after all); false when it is no longer there.
  bool erase(std::uint64_t id) { return entries_.erase(id) == 1; }

  // The deadline sweep: moves every entry whose deadline is at or before `now_ns` to `out`.
  void take_expired(Nanos now_ns, std::vector<Entry>& out) {
    take_if([now_ns](const Entry& e) { return e.deadline_ns <= now_ns; }, out);
  }
  // Moves every entry `pred` selects to `out` (a broken link's requests; all of them).
  template <class Pred>
  void take_if(Pred&& pred, std::vector<Entry>& out) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (!pred(std::as_const(it->second))) {
        ++it;
        continue;
      }
      out.push_back(std::move(it->second));
      it = entries_.erase(it);
    }
  }
  void take_all(std::vector<Entry>& out) {
    take_if([](const Entry&) { return true; }, out);
  }

  void clear() noexcept { entries_.clear(); }
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::uint64_t next_id_ = 1;
};

}  // namespace pathbench
