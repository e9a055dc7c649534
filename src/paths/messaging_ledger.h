// The accounting of one run of a one-way messaging path (paths/messaging.h): which confirmed
// messages the consumers took, once or more, and when. Fed after the run's client threads have
// been joined — the publishers' confirmed keys, then the consumers' logs (roles/message_consumer.h),
// read incrementally while the backlog drains — and folded into the run's PhaseStats.
// Single-threaded (the runner's thread).
//
// Definitions (docs/scenarios.md, "messaging"): published = what the schedule issued; confirmed =
// acknowledged by the broker; consumed = deliveries the consumers finished and acked (each first
// delivery of a message, plus `duplicated` redeliveries of one already consumed); lost = confirmed
// and never consumed by the end of the drain; expired = first delivery older than max_age (its
// work not done). End-to-end latency: intended publish time -> first delivery done, for messages
// neither expired nor failed. Lost and expired messages are not ok: fill() moves them from the
// phase's ok count to its timeouts (the broker's confirms stay in `confirmed`).
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/histogram.h"
#include "measure/recorder.h"
#include "measure/schedule.h"
#include "roles/message_consumer.h"

namespace pathbench {

// A message's key: the run (a knee search makes several; 8 bits, so a late redelivery from an
// earlier run is never taken for this one's), the client thread, and its request id there.
inline std::uint64_t message_key(std::uint32_t run, int thread, std::uint64_t request_id) noexcept {
  return (std::uint64_t{run & 0xffu} << 56) | (std::uint64_t(thread & 0xffff) << 40) | (request_id & ((std::uint64_t{1} << 40) - 1));
}
inline std::uint32_t run_of_key(std::uint64_t key) noexcept { return static_cast<std::uint32_t>(key >> 56); }

class MessageLedger {
 public:
  MessageLedger(std::uint32_t run, Nanos start_ns, std::vector<PhasePlan> plan);

  // A publish the broker confirmed.
  void confirmed(std::uint64_t key, Nanos intended_ns);
  // Reads log records [cursor, size) and advances cursor. Records of other runs are ignored.
  void ingest(const ConsumeLog& log, std::size_t& cursor);

  std::int64_t missing() const noexcept { return confirmed_ - confirmed_consumed_; }  // confirmed, not yet consumed
  std::int64_t consumed() const noexcept { return deliveries_; }
  // When the last first delivery was done (steady ns; 0: none yet).
  Nanos last_consumed_ns() const noexcept { return last_first_done_ns_; }

  // Sets phases[p].messaging's counters and replaces phases[p].latency with the end-to-end
  // histogram (the load generator's — intended publish -> confirm — moves to publish_latency).
  void fill(std::vector<PhaseStats>& phases) const;
  // First deliveries done in each second since the start line, [0, seconds).
  std::vector<std::int64_t> consumed_per_second(std::size_t seconds) const;

 private:
  struct Entry {
    Nanos intended_ns = 0;
    Nanos first_done_ns = 0;
    std::int32_t deliveries = 0;
    bool confirmed = false, expired = false, failed = false;
  };
  std::size_t phase_of(Nanos intended_ns) const noexcept;

  std::uint32_t run_;
  Nanos start_ns_;
  std::vector<PhasePlan> plan_;
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::int64_t confirmed_ = 0, confirmed_consumed_ = 0, deliveries_ = 0;
  Nanos last_first_done_ns_ = 0;
};

}  // namespace pathbench
