#include "paths/broker_client_base.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "net/tls_policy.h"

namespace pathbench {

namespace {
constexpr std::size_t kIdDigits = 20;
}  // namespace

std::string make_broker_body(std::uint64_t wire, std::size_t message_bytes) {
  std::string body = fmt::format("{:020}", wire);
  if (body.size() < message_bytes) body.append(message_bytes - body.size(), 'x');
  return body;
}

bool parse_broker_body(std::string_view body, std::uint64_t& wire) noexcept {
  if (body.size() < kIdDigits) return false;
  auto r = std::from_chars(body.data(), body.data() + kIdDigits, wire);
  return r.ec == std::errc{} && r.ptr == body.data() + kIdDigits;
}

BrokerClientBase::BrokerClientBase(boost::asio::io_context& io, CompletionSink& sink, BrokerClientSettings settings)
    : io_(io), sink_(sink), s_(std::move(settings)), start_timer_(io) {}

void BrokerClientBase::track(std::uint32_t slot, std::uint64_t id) {
  if (slot >= out_.size()) out_.resize(slot + 1, 0);
  out_[slot] = id + 1;
}

void BrokerClientBase::finish(std::uint32_t slot, std::uint64_t id, Outcome outcome) {
  if (slot < out_.size() && out_[slot] == id + 1) out_[slot] = 0;
  sink_.complete(slot, id, outcome);
}

void BrokerClientBase::finish_body(std::string_view body) {
  std::uint64_t wire = 0;
  if (!parse_broker_body(body, wire)) return;  // not ours: cannot be matched to a request
  finish(slot_of(wire), id_of(wire), Outcome::ok);
}

void BrokerClientBase::fail_all(Outcome outcome) {
  for (std::size_t slot = 0; slot < out_.size(); ++slot) {
    if (out_[slot] == 0) continue;
    const std::uint64_t id = out_[slot] - 1;
    out_[slot] = 0;
    sink_.complete(static_cast<std::uint32_t>(slot), id, outcome);
  }
}

void BrokerClientBase::begin_start(std::function<void(std::string)> done, std::string what) {
  start_done_ = std::move(done);
  start_timer_.expires_after(std::chrono::nanoseconds(s_.deadline_ns));
  start_timer_.async_wait([this, what = std::move(what)](boost::system::error_code ec) {
    if (!ec) finish_start(fmt::format("{} timed out", what));
  });
}

void BrokerClientBase::finish_start(std::string error) {
  if (!start_done_) return;
  start_timer_.cancel();
  auto done = std::move(start_done_);
  start_done_ = nullptr;
  done(std::move(error));
}

BrokerFrontInstance::BrokerFrontInstance(const Scenario& scenario, const PathSpec& spec, std::string address,
                                         std::string endpoint, MakeClient make, bool tls)
    : scenario_(scenario), spec_(spec), address_(std::move(address)), endpoint_(std::move(endpoint)), make_(make) {
  if (!tls) return;
  tls_ = net::client_tls();
  if (!tls_) throw std::runtime_error(fmt::format("{}: the broker speaks TLS and this run has no client identity ([tls])", endpoint_));
}

std::unique_ptr<PathClient> BrokerFrontInstance::make_client(boost::asio::io_context& io, CompletionSink& sink,
                                                             int thread_index) {
  BrokerClientSettings s{fmt::format("bench-{}-{}", spec_.label.empty() ? spec_.kind : spec_.label, thread_index),
                         static_cast<std::size_t>(std::max(spec_.message_bytes, 0)), scenario_.load.deadline_ns,
                         std::max(spec_.producers, 1), std::max(spec_.consumers, 1), spec_.publish_async, tls_};
  return make_(io, sink, std::move(s), address_, thread_index);
}

}  // namespace pathbench
