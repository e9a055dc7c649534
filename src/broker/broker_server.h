// The broker role: one Broker plus the listeners that expose it: the native protocol server
// (broker/native_server.h) and, each optional (an empty address = not started), the seed fronts
// of broker/fronts.h — gRPC MessageQueue (grpc_listen) and one HTTP+WebSocket server for
// /ws/publish, /ws/consume and /api/* (http_listen). The fronts are constructed after the native
// server and destroyed before it. The queue "default" is declared at start with max_pending.
// With options.tls every listener speaks mutual TLS with the same identity.
//
// Threads: the native server's ("pb-broker", "pb-broker-1", ...), the HTTP front's
// ("pb-broker-http", ...), gRPC's own for the gRPC front; the Broker itself has none.
// The destructor stops the listeners (closing every client session) before the Broker goes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "broker/fronts.h"
#include "broker/native_server.h"

namespace pathbench::broker {

struct BrokerServerOptions {
  std::string listen = "127.0.0.1:0";  // native protocol, host:port; port 0 = a free port
  int max_pending = 10000;             // queues declared without a bound, and subject subscribers
  int threads = 1;                     // native server I/O threads
  std::size_t max_frame_bytes = protocol::kDefaultMaxFrameBytes;
  std::size_t max_connections = 1024;           // native protocol connections (NativeServerOptions)
  std::size_t max_buffered_bytes = 128u << 20;  // input held for incomplete native frames, all connections
  std::string grpc_listen = "";         // gRPC MessageQueue front, host:port; "" = off
  std::string http_listen = "";         // HTTP /api/* + WebSocket /ws/* front, host:port; "" = off
  int http_threads = 1;                 // the HTTP front's I/O threads
  // Mutual TLS on every listener (native tcps://, gRPC, https:// and wss://): this broker's
  // certificate and key, and the CA its clients' certificates must chain to. nullptr =
  // plaintext, which non-loopback addresses refuse unless plaintext was allowed (--insecure).
  std::shared_ptr<const TlsMaterial> tls;
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
  std::string url() const;      // "tcp://host:port" (TLS: "tcps://host:port"), as mq::Endpoint::url wants it
  bool tls() const noexcept;    // every listener speaks mutual TLS
  std::string grpc_address() const;  // the gRPC front's "host:port", "" when off
  std::string http_address() const;  // the HTTP+WebSocket front's "host:port", "" when off
  BrokerServerStats stats() const;
  Broker& broker() noexcept { return *broker_; }

 private:
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<NativeServer> native_;  // declared after broker_: destroyed first
  std::unique_ptr<GrpcFront> grpc_;       // the fronts, destroyed before the native server
  std::unique_ptr<HttpFront> http_;
};

// Prometheus text exposition (format 0.0.4) of the stats, for `pathbench serve broker --metrics`:
// per queue depth, unacked, consumers, message counters by event and publish-to-delivery
// quantiles; per subject; connections. Label values are escaped.
std::string prometheus_exposition(const BrokerServerStats& stats);

}  // namespace pathbench::broker
