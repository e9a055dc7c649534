// The seed systems' front-ends as thin adapters over the Broker core (broker/broker.h); they own
// no messages and no queue logic, they translate requests and replies. The full wire contract,
// with status codes and bodies, is docs/broker-fronts.md.
//
//  * GrpcFront — QuickPulse's gRPC MessageQueue (proto/messagequeue.proto): Produce, Consume,
//    StreamMessages, on the callback API (gRPC's own threads).
//  * HttpFront — one net::WsServer carrying QuickPulse's WebSocket endpoints (/ws/publish,
//    /ws/consume, ?queue=NAME) and GopherMQ's HTTP JSON API (/api/publish, /api/publish/async,
//    /api/subscribe, /api/fetch) on the same port.
//
// Queues: "default" is declared by BrokerServer at start with its max_pending; any other queue
// a client names is declared on first use with the broker's default bound. Overflow is always
// reported to the client ("broker overflow"), never dropped later.
// Threads: the fronts keep no state of their own beyond per-connection names; every call goes
// straight to the thread-safe Broker. Construct after the Broker, destroy before it.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "broker/broker.h"
#include "core/tls_config.h"

namespace pathbench::broker {

inline constexpr std::string_view kDefaultQueue = "default";

// Front-neutral helpers (also used by the tests): publish to `queue` ("" = default), declaring
// it on first use; the reason text the fronts put on the wire for a status.
Status front_publish(Broker& broker, std::string_view queue, std::string body);
std::string_view front_error_text(Status status) noexcept;  // "broker overflow", "queue empty", ...

class GrpcFront {
 public:
  // Listens on `listen` (host:port, port 0 = a free one), mutual TLS with `tls` (nullptr:
  // plaintext); throws std::runtime_error when it cannot.
  GrpcFront(Broker& broker, const std::string& listen, std::size_t max_message_bytes,
            std::shared_ptr<const TlsMaterial> tls = nullptr);
  ~GrpcFront();  // shuts the server down (open streams are cancelled) before returning
  GrpcFront(const GrpcFront&) = delete;
  GrpcFront& operator=(const GrpcFront&) = delete;
  std::string address() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

class HttpFront {
 public:
  // Listens on `listen` (https:// and wss:// with `tls`); its I/O threads are named
  // thread_name, thread_name-1, ... (<= 15 chars).
  HttpFront(Broker& broker, const std::string& listen, std::size_t max_message_bytes, int threads,
            const std::string& thread_name, std::shared_ptr<const TlsMaterial> tls = nullptr);
  ~HttpFront();  // stops the server (WebSocket connections closed with 1001)
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;
  std::string address() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathbench::broker
