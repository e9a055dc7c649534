#include "paths/messaging_ledger.h"

#include <algorithm>

namespace pathbench {

MessageLedger::MessageLedger(std::uint32_t run, Nanos start_ns, std::vector<PhasePlan> plan)
    : run_(run & 0xffu), start_ns_(start_ns), plan_(std::move(plan)) {}

void MessageLedger::confirmed(std::uint64_t key, Nanos intended_ns) {
  Entry& e = entries_[key];
  if (e.confirmed) return;
  e.confirmed = true;
  e.intended_ns = intended_ns;
  ++confirmed_;
  if (e.deliveries > 0) ++confirmed_consumed_;
}

void MessageLedger::ingest(const ConsumeLog& log, std::size_t& cursor) {
  const std::size_t end = log.size();
  for (; cursor < end; ++cursor) {
    const ConsumeRecord& r = log.at(cursor);
    if (r.key == 0 || run_of_key(r.key) != run_) continue;  // unreadable, or an earlier run's
    Entry& e = entries_[r.key];
    ++deliveries_;
    if (e.deliveries++ > 0) continue;  // a redelivery: counted, not timed again
    e.intended_ns = r.intended_ns;
    e.first_done_ns = r.done_ns;
    e.expired = r.expired;
    e.failed = r.failed;
    last_first_done_ns_ = std::max(last_first_done_ns_, r.done_ns);
    if (e.confirmed) ++confirmed_consumed_;
  }
}

std::size_t MessageLedger::phase_of(Nanos intended_ns) const noexcept {
  const std::size_t p = phase_at(plan_, intended_ns - start_ns_);
  return std::min(p, plan_.empty() ? 0 : plan_.size() - 1);
}

void MessageLedger::fill(std::vector<PhaseStats>& phases) const {
  if (phases.size() < plan_.size()) phases.resize(plan_.size());
  std::vector<Histogram> e2e(plan_.size());
  for (std::size_t p = 0; p < plan_.size(); ++p) {
    PhaseStats& s = phases[p];
    s.messaging = PhaseStats::Messaging{};
    s.messaging.present = true;
    s.messaging.published = s.issued;
    s.messaging.confirmed = s.count(Outcome::ok);
  }
  for (auto& [key, e] : entries_) {
    if (plan_.empty()) break;
    const std::size_t p = phase_of(e.intended_ns);
    PhaseStats::Messaging& m = phases[p].messaging;
    m.consumed += e.deliveries;
    if (e.deliveries > 1) m.duplicated += e.deliveries - 1;
    if (e.deliveries == 0) {
      if (e.confirmed) ++m.lost;
      continue;
    }
    if (e.expired) ++m.expired;
    else if (!e.failed) e2e[p].record(std::max<Nanos>(e.first_done_ns - e.intended_ns, 0));
  }
  for (std::size_t p = 0; p < plan_.size(); ++p) {
    PhaseStats& s = phases[p];
    s.publish_latency = std::move(s.latency);
    s.latency = std::move(e2e[p]);
    // End to end, a confirmed message that was never consumed, or consumed too old, is not ok:
    // it counts as a timeout (issued = ok + errors + timeouts + rejected still holds), so the
    // error ratio — and a knee search — sees it.
    auto& ok = s.outcomes[static_cast<std::size_t>(Outcome::ok)];
    const std::int64_t not_ok = std::min(ok, s.messaging.lost + s.messaging.expired);
    ok -= not_ok;
    s.outcomes[static_cast<std::size_t>(Outcome::timeout)] += not_ok;
  }
}

std::vector<std::int64_t> MessageLedger::consumed_per_second(std::size_t seconds) const {
  std::vector<std::int64_t> out(seconds, 0);
  for (auto& [key, e] : entries_) {
    if (e.deliveries == 0 || e.first_done_ns < start_ns_) continue;
    const auto s = static_cast<std::size_t>((e.first_done_ns - start_ns_) / kNanosPerSecond);
    if (s < seconds) ++out[s];
  }
  return out;
}

}  // namespace pathbench
