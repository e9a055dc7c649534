// A private RabbitMQ or NATS server for a run whose scenario says `url = "auto"`, and for tests.
//
// BrokerProcess::start(kind) starts the Debian-packaged server on free loopback ports in its own
// process group and temporary folder, under a supervisor that ends the server's whole process tree
// and removes the folder when pathbench goes away in any way, SIGKILL included (mq/supervisor.h),
// waits until it serves, and returns the URL to put into mq::Endpoint. The destructor (or stop()) shuts it down within a bound and removes the folder.
// Every started server is also in a process-wide registry, so the CLI's signal handling can end
// them on Ctrl-C (stop_all_brokers, or kill_all_brokers_signal_safe from inside a handler).
//
//   rabbitmq — `rabbitmq-server` with RABBITMQ_MNESIA_BASE/LOG_BASE in the folder (owned by the
//     `rabbitmq` user when running as root: Debian's wrapper runs the server as that user), a unique
//     node name "pathbench-<pid>-<n>@localhost", free ports for AMQP and for Erlang distribution
//     (RABBITMQ_DIST_PORT; distribution and epmd bound to 127.0.0.1), no plugins and no config file from /etc; ready when the AMQP port
//     accepts and `rabbitmqctl -n NODE await_startup` succeeds (about 8 s here, bounded by
//     startup_timeout_ns). Stopped with `rabbitmqctl -n NODE stop`, then SIGTERM and SIGKILL of the
//     process group; the supervisor ends what is left, an `epmd` the server started included.
//   nats — `nats-server -a 127.0.0.1 -p PORT`; ready when the port answers with INFO. Stopped with
//     SIGTERM, then SIGKILL.
//   postgres — Debian's PostgreSQL (/usr/lib/postgresql/<highest version>/bin, or search_path):
//     `initdb` (trust authentication, user postgres, UTF8, locale C) into the folder, then
//     `postgres` on 127.0.0.1:PORT with its unix socket in the folder and server_args appended
//     (db/ passes the durability settings: fsync, synchronous_commit); as root both run as the
//     `postgres` user (setpriv), which owns the folder. Ready when the port accepts; stopped like
//     nats (SIGTERM: the supervisor ends the postmaster and its backends). URL
//     "postgresql://postgres@127.0.0.1:PORT/postgres" (no password: trust on loopback only).
//
// Threads: start/stop/destructor from any one thread per object; the free functions from any thread.
#pragma once
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/tls_config.h"

namespace pathbench::mq {

struct BrokerOptions {
  Nanos startup_timeout_ns = 60 * kNanosPerSecond;  // start() gives up (and cleans up) after this
  Nanos stop_timeout_ns = 15 * kNanosPerSecond;     // graceful stop bound before signals
  // Where to look for the server programs, ':'-separated; empty = $PATH. (Tests point it at an
  // empty folder to see the "not installed" message.)
  std::string search_path;
  // Extra command-line arguments for the server (postgres: "-c", "fsync=off", ...; nats: "--tls",
  // "--tlscert", FILE, ...).
  std::vector<std::string> server_args;
  // A broker that accepts only mutual-TLS clients (tests; docs/distributed.md): it presents
  // tls.cert + tls.key and requires a client certificate chaining to tls.ca. nats: every client
  // (url() stays nats://, clients must use TLS); rabbitmq: an AMQPS listener on a second port
  // beside the plaintext one, and url() is "amqps://guest:guest@127.0.0.1:TLS_PORT". The files are
  // copied into the server's folder (the server may run as another user).
  TlsFiles tls;
};

class BrokerProcess {
 public:
  // kind: "rabbitmq" | "nats" | "postgres". Throws std::runtime_error with the reason: unknown kind; program
  // missing ("rabbitmq-server not found on PATH: install the Debian package rabbitmq-server");
  // the server exited or did not become ready in time (with the tail of its output).
  static BrokerProcess start(const std::string& kind, const BrokerOptions& options = {});

  BrokerProcess(BrokerProcess&&) noexcept;
  BrokerProcess& operator=(BrokerProcess&&) noexcept;
  ~BrokerProcess();  // stop()

  const std::string& kind() const noexcept;
  // "amqp://guest:guest@127.0.0.1:PORT" (vhost "/") or "nats://127.0.0.1:PORT".
  const std::string& url() const noexcept;
  pid_t pid() const noexcept;  // the server's process group leader (its supervisor)
  // CPU time the server's whole process tree has used so far (0 once stopped): a private server
  // is another process, and a run that uses it pays for it (runner: the broker CPU group).
  Nanos cpu_ns() const;
  bool running() const noexcept;
  // Stops the server (bounded) and removes its folder. Idempotent.
  void stop() noexcept;

  struct State;

 private:
  explicit BrokerProcess(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Stops every server still running in this process (bounded, as BrokerProcess::stop). For the
// CLI's shutdown paths; also registered with std::atexit when the first server starts.
void stop_all_brokers() noexcept;
// Sends SIGTERM to every running server's process group (each supervisor then ends its server's
// tree and removes its folder); async-signal-safe, for a signal handler that is about to _exit.
void kill_all_brokers_signal_safe() noexcept;

}  // namespace pathbench::mq
