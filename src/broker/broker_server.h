// The broker role: one Broker plus the listeners that expose it. Today that is the native
// protocol server (broker/native_server.h); the seed fronts (gRPC Produce/Consume/StreamMessages,
// WebSocket publish/consume, HTTP publish/subscribe/fetch) are meant to be thin adapters over
// broker() added here as further listeners: each gets an optional address in
// BrokerServerOptions (empty = not started), is constructed after the native server and
// destroyed before it, and reports its resolved address like address() does.
//
// Threads: the native server's ("pb-broker", "pb-broker-1", ...); the Broker itself has none.
// The destructor stops the listeners (closing every client session) before the Broker goes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "broker/native_server.h"

namespace pathbench::broker {

struct BrokerServerOptions {
  std::string listen = "127.0.0.1:0";  // native protocol, host:port; port 0 = a free port
  int max_pending = 10000;             // queues declared without a bound, and subject subscribers
  int threads = 1;                     // native server I/O threads
  std::size_t max_frame_bytes = protocol::kDefaultMaxFrameBytes;
  // Later fronts, each "" = off: grpc_listen, websocket_listen, http_listen.
};

struct BrokerServerStats {
  BrokerStats broker;
  NativeServerStats native;
};

class BrokerServer {
 public:
  // Throws std::runtime_error when it cannot listen or an option is out of range.
  explicit BrokerServer(const BrokerServerOptions& options);
  ~BrokerServer();
  BrokerServer(const BrokerServer&) = delete;
  BrokerServer& operator=(const BrokerServer&) = delete;

  std::string address() const;  // the native protocol's "host:port", port resolved
  std::string url() const;      // "tcp://host:port", as mq::Endpoint::url wants it
  BrokerServerStats stats() const;
  Broker& broker() noexcept { return *broker_; }

 private:
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<NativeServer> native_;  // declared after broker_: destroyed first
};

// Prometheus text exposition (format 0.0.4) of the stats, for `pathbench serve broker --metrics`:
// per queue depth, unacked, consumers, message counters by event and publish-to-delivery
// quantiles; per subject; connections. Label values are escaped.
std::string prometheus_exposition(const BrokerServerStats& stats);

}  // namespace pathbench::broker
