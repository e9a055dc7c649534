#include "broker/broker_server.h"

#include <fmt/format.h>

#include <stdexcept>

namespace pathbench::broker {

namespace {

BrokerOptions broker_options(const BrokerServerOptions& o) {
  if (o.max_pending < 1) throw std::runtime_error(fmt::format("broker: max_pending must be at least 1, found {}", o.max_pending));
  if (o.threads < 1 || o.threads > 64) throw std::runtime_error(fmt::format("broker: threads must be 1..64, found {}", o.threads));
  BrokerOptions b;
  b.default_max_pending = o.max_pending;
  return b;
}

NativeServerOptions native_options(const BrokerServerOptions& o) {
  NativeServerOptions n;
  n.listen = o.listen;
  n.threads = o.threads;
  n.max_frame_bytes = o.max_frame_bytes;
  return n;
}

}  // namespace

BrokerServer::BrokerServer(const BrokerServerOptions& options)
    : broker_(std::make_unique<Broker>(broker_options(options))),
      native_(std::make_unique<NativeServer>(*broker_, native_options(options))) {}

BrokerServer::~BrokerServer() { native_.reset(); }

std::string BrokerServer::address() const { return native_->address(); }
std::string BrokerServer::url() const { return "tcp://" + native_->address(); }

BrokerServerStats BrokerServer::stats() const { return {broker_->stats(), native_->stats()}; }

}  // namespace pathbench::broker
