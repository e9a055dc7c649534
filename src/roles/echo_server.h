// A raw TCP echo server: every byte read is written back, unchanged, in order. The floor
// that every request path is compared with (path `tcp_echo`). Any byte sequence is valid
// input, so there is nothing to reject; a connection idle past `idle_timeout` is closed.
//
// Listening goes through net/listener.h (a failing accept backs off instead of spinning).
// Threads: the constructor starts `threads` named threads ("pb-echo-N"), each running its own
// io_context; connections are dealt to them round robin and stay on theirs. The destructor
// stops and joins them. Idle connections are found by a coarse check (no timer per message).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.h"

namespace pathbench {

struct EchoServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: a free port chosen by the kernel
  int threads = 1;
  Nanos idle_timeout_ns = 60 * kNanosPerSecond;
};

class EchoServer {
 public:
  // Throws std::runtime_error when it cannot listen.
  explicit EchoServer(const EchoServerOptions& options);
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  std::uint16_t port() const noexcept;
  std::string host() const;
  std::uint64_t connections_accepted() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathbench
