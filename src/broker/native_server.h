// The broker's native protocol server (docs/broker-protocol.md) over a Broker it does not own.
//
// Each TCP connection (TLS with options.tls) is one broker session: its consumers are cancelled (their unacknowledged
// messages redelivered, flagged) and its exclusive queues deleted when it closes, for whatever
// reason. A malformed or oversized frame gets an `error` frame (seq 0, malformed / too_large)
// and closes that connection only; the server keeps serving the others.
//
// Listening goes through net/listener.h: a failing accept (out of descriptors) backs off and logs
// one line per wait instead of spinning.
//
// Threads: the constructor starts `threads` named threads ("pb-broker", "pb-broker-1", ...)
// running one io_context; each connection lives on its own strand (no mutex per connection), with
// one write in flight and the frames produced meanwhile batched behind it. Broker delivery
// callbacks, which run on any thread, post to the connection's strand. A connection whose
// answers pile up unread (more than 8 MiB queued) is not read until they drain; deliveries are
// bounded by prefetch (auto-ack consumers: by what their owner publishes). The destructor stops the
// io_context, joins the threads, then closes every session still open; destroy it before the
// Broker, and after any in-process publisher has stopped.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "broker/protocol.h"
#include "core/tls_config.h"

namespace pathbench::broker {

struct NativeServerOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 = a free port chosen by the kernel
  int threads = 1;
  std::size_t max_frame_bytes = protocol::kDefaultMaxFrameBytes;  // longer frames close the connection
  std::string thread_name = "pb-broker";  // <= 12 characters, the thread number is appended
  // Hostile or runaway clients cannot make the server hold unbounded memory: connections beyond
  // max_connections, and a connection whose input buffer would take the total held for
  // incomplete frames over max_buffered_bytes, get an error frame (overflow, with the reason)
  // and are closed. Idle input buffers shrink back to their initial size.
  std::size_t max_connections = 1024;
  std::size_t max_buffered_bytes = 128u << 20;
  // Mutual TLS on every connection (URL tcps://): this server's certificate and key, and the CA
  // every client's certificate must chain to; a client without one, or plaintext, is refused
  // (that connection only). A TLS handshake not done within handshake_timeout_ns closes the
  // connection. nullptr = plaintext, which a non-loopback `listen` refuses (net/tls_policy.h)
  // unless plaintext was allowed.
  std::shared_ptr<const TlsMaterial> tls;
  Nanos handshake_timeout_ns = 10 * kNanosPerSecond;
};

struct NativeServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_open = 0;
  std::uint64_t closed_malformed = 0;  // connections closed for a malformed frame
  std::uint64_t closed_too_large = 0;  // connections closed for an oversized frame
  std::uint64_t closed_over_limit = 0;  // refused: past max_connections or max_buffered_bytes
  std::uint64_t closed_handshake = 0;   // TLS handshake failed or timed out (plaintext client, wrong CA, ...)
  std::uint64_t buffered_bytes = 0;     // input buffer bytes held over every connection now
};

class NativeServer {
 public:
  // Listens at once; throws std::runtime_error naming the address when it cannot.
  NativeServer(Broker& broker, const NativeServerOptions& options);
  ~NativeServer();
  NativeServer(const NativeServer&) = delete;
  NativeServer& operator=(const NativeServer&) = delete;

  std::string address() const;  // "host:port" with the port actually bound
  bool tls() const noexcept;
  std::uint16_t port() const noexcept;
  NativeServerStats stats() const noexcept;  // thread-safe

  struct Impl;  // defined in native_server.cpp; public so its connection class can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathbench::broker
