// One AMQP 0-9-1 connection through rabbitmq-c, owned by one thread, and the small pieces the
// RabbitMQ requester and responder (mq/rabbitmq.cpp) share: timeouts as timeval, reply texts,
// the eventfd wake-up of a thread sleeping in poll(). Internal to the mq layer.
#pragma once
#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string>

#include "core/clock.h"
#include "core/url.h"
#include "mq/mq.h"

namespace pathbench::mq::amqp_detail {

inline constexpr amqp_channel_t kChannel = 1;
inline constexpr Nanos kMaxBackoffNs = 2 * kNanosPerSecond;

inline timeval to_timeval(Nanos ns) {
  ns = std::max<Nanos>(ns, 0);
  return timeval{static_cast<time_t>(ns / kNanosPerSecond), static_cast<suseconds_t>((ns % kNanosPerSecond) / 1000)};
}

inline std::string bytes_to_string(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

inline std::string describe(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: return "ok";
    case AMQP_RESPONSE_NONE: return "missing RPC reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return fmt::format("server closed the connection: {} {}", m->reply_code, bytes_to_string(m->reply_text));
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return fmt::format("server closed the channel: {} {}", m->reply_code, bytes_to_string(m->reply_text));
      }
      return fmt::format("server exception, method 0x{:08x}", r.reply.id);
  }
  return "unknown RPC reply";
}

inline bool parse_u64(amqp_bytes_t b, std::uint64_t& out) {
  const char* p = static_cast<const char*>(b.bytes);
  auto [end, ec] = std::from_chars(p, p + b.len, out);
  return ec == std::errc() && end == p + b.len && b.len > 0;
}

// A wake-up line into a thread that sleeps in poll().
class Wakeup {
 public:
  Wakeup() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw std::runtime_error("eventfd failed");
  }
  ~Wakeup() { ::close(fd_); }
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;
  void notify() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
  }
  void clear() {
    std::uint64_t v;
    [[maybe_unused]] auto n = ::read(fd_, &v, sizeof v);
  }
  int fd() const { return fd_; }
  // Sleeps until notified or `timeout_ns` passed.
  void wait(Nanos timeout_ns) {
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::max<Nanos>(timeout_ns / kNanosPerMilli, 1)));
    clear();
  }

 private:
  int fd_;
};

// One AMQP connection with channel 1 open, owned by one thread.
class AmqpConnection {
 public:
  // Connects, logs in and opens the channel within `endpoint.timeout_ns`; throws std::runtime_error.
  explicit AmqpConnection(const Endpoint& endpoint) : state_(amqp_new_connection()) {
    if (!state_) throw std::runtime_error("rabbitmq: out of memory");
    try {
      open(endpoint);
    } catch (...) {
      amqp_destroy_connection(state_);
      throw;
    }
  }
  ~AmqpConnection() {
    if (healthy_) {
      // Polite close, each RPC bounded by the rpc timeout set in open().
      amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
      amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(state_);
  }
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  amqp_connection_state_t state() const { return state_; }
  int fd() const { return amqp_socket_get_sockfd(amqp_get_socket(state_)); }
  void mark_broken() { healthy_ = false; }
  Nanos heartbeat_ns() const { return heartbeat_ns_; }

  // Throws with the reason when the last RPC did not succeed.
  void check_rpc(const char* what) {
    amqp_rpc_reply_t r = amqp_get_rpc_reply(state_);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      healthy_ = false;
      throw std::runtime_error(fmt::format("rabbitmq: {}: {}", what, describe(r)));
    }
  }

  // The request queue, bounded: x-max-length = max_pending, x-overflow = reject-publish; durable
  // when endpoint.durable (one-way messaging).
  void declare_request_queue(const Endpoint& endpoint) {
    amqp_table_entry_t entries[2];
    entries[0].key = amqp_cstring_bytes("x-max-length");
    entries[0].value.kind = AMQP_FIELD_KIND_I64;
    entries[0].value.value.i64 = endpoint.max_pending;
    entries[1].key = amqp_cstring_bytes("x-overflow");
    entries[1].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[1].value.value.bytes = amqp_cstring_bytes("reject-publish");
    amqp_table_t args{2, entries};
    amqp_queue_declare(state_, kChannel, amqp_cstring_bytes(endpoint.request_queue.c_str()), /*passive=*/0,
                       /*durable=*/endpoint.durable ? 1 : 0, /*exclusive=*/0, /*auto_delete=*/0, args);
    check_rpc(fmt::format("declaring queue {}", endpoint.request_queue).c_str());
  }

  // Waits until the socket is readable, `wake` fires, or `timeout_ns` passes. Returns at once
  // when rabbitmq-c already holds buffered data.
  void wait(Wakeup& wake, Nanos timeout_ns) {
    if (amqp_frames_enqueued(state_) || amqp_data_in_buffer(state_)) return;
    pollfd p[2] = {{fd(), POLLIN, 0}, {wake.fd(), POLLIN, 0}};
    timeout_ns = std::max<Nanos>(timeout_ns, 0);
    timespec ts{static_cast<time_t>(timeout_ns / kNanosPerSecond), static_cast<long>(timeout_ns % kNanosPerSecond)};
    ::ppoll(p, 2, &ts, nullptr);
    if (p[1].revents) wake.clear();
  }

  // The next frame if one is available now (also sends and checks heartbeats).
  // Returns AMQP_STATUS_OK, AMQP_STATUS_TIMEOUT (nothing there) or an error.
  int next_frame(amqp_frame_t& frame) {
    timeval zero{0, 0};
    return amqp_simple_wait_frame_noblock(state_, &frame, &zero);
  }

 private:
  void open(const Endpoint& endpoint) {
    const Nanos deadline = now_ns() + endpoint.timeout_ns;
    // The scenario loader validated the URL with the same parser (core/url.h).
    std::string why;
    const bool tls = endpoint.url.rfind("amqps://", 0) == 0;
    const auto url = parse_url(endpoint.url, default_port_of(tls ? "amqps" : "amqp"), &why);
    if (!url || (url->scheme != "amqp" && url->scheme != "amqps"))
      throw std::runtime_error(fmt::format("rabbitmq: cannot use url \"{}\": {}", redact_urls(endpoint.url),
                                           url ? "the scheme is not amqp:// or amqps://" : why));
    amqp_connection_info info;
    amqp_default_connection_info(&info);
    std::string host = url->host, user = url->has_user_info ? url->user : "guest",
                password = url->has_user_info ? url->password : "guest", vhost = url->path.empty() ? "/" : url->path;
    info.host = host.data();
    info.port = url->port;
    info.user = user.data();
    info.password = password.data();
    info.vhost = vhost.data();
    amqp_socket_t* socket = tls ? tls_socket(endpoint, url->redacted(), host) : amqp_tcp_socket_new(state_);
    if (!socket) throw std::runtime_error("rabbitmq: cannot create a socket");
    timeval tv = to_timeval(deadline - now_ns());
    if (int rc = amqp_socket_open_noblock(socket, info.host, info.port, &tv); rc != AMQP_STATUS_OK)
      throw std::runtime_error(fmt::format("rabbitmq at {}: {}", url->redacted(), amqp_error_string2(rc)));
    tv = to_timeval(deadline - now_ns());
    amqp_set_handshake_timeout(state_, &tv);
    // Every RPC (declare, qos, consume, cancel, close) is bounded by the same timeout.
    timeval rpc = to_timeval(endpoint.timeout_ns);
    amqp_set_rpc_timeout(state_, &rpc);
    int heartbeat_s = 0;
    if (endpoint.heartbeat_ns > 0)
      heartbeat_s = static_cast<int>(std::max<Nanos>(endpoint.heartbeat_ns / kNanosPerSecond, 1));
    heartbeat_ns_ = heartbeat_s * kNanosPerSecond;
    amqp_rpc_reply_t r = amqp_login(state_, info.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat_s,
                                    AMQP_SASL_METHOD_PLAIN, info.user, info.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
      throw std::runtime_error(fmt::format("rabbitmq at {}: login: {}", url->redacted(), describe(r)));
    healthy_ = true;
    amqp_channel_open(state_, kChannel);
    check_rpc("opening channel");
  }

  // AMQPS (amqps://, port 5671 by default): the broker's certificate must chain to endpoint.tls.ca
  // (required) and, when the URL's host is a name, carry it; this end presents endpoint.tls.cert +
  // key when given (mutual TLS). rabbitmq-c checks the name itself and has no way to check an IP
  // address or another name (tls.server_name): with an IP address, the chain alone.
  amqp_socket_t* tls_socket(const Endpoint& endpoint, const std::string& where, const std::string& host) {
    const TlsFiles& files = endpoint.tls;
    if (files.ca.empty())
      throw std::runtime_error(fmt::format("rabbitmq at {}: amqps:// needs a CA to verify the broker ([tls] / [tls.broker] "
                                           "ca, or serve's --tls-ca)", where));
    if (!files.server_name.empty() && files.server_name != host)
      throw std::runtime_error(fmt::format("rabbitmq at {}: amqps:// cannot check another name than the URL's host "
                                           "(server_name \"{}\"): put that name in the URL", where, files.server_name));
    amqp_socket_t* socket = amqp_ssl_socket_new(state_);
    if (!socket) return nullptr;
    const bool ip = host.find(':') != std::string::npos || host.find_first_not_of("0123456789.") == std::string::npos;
    amqp_ssl_socket_set_verify_peer(socket, 1);
    amqp_ssl_socket_set_verify_hostname(socket, ip ? 0 : 1);
    if (int rc = amqp_ssl_socket_set_cacert(socket, files.ca.c_str()); rc != AMQP_STATUS_OK)
      throw std::runtime_error(fmt::format("rabbitmq at {}: loading the TLS CA file {}: {}", where, files.ca.string(),
                                           amqp_error_string2(rc)));
    if (!files.cert.empty() || !files.key.empty())
      if (int rc = amqp_ssl_socket_set_key(socket, files.cert.c_str(), files.key.c_str()); rc != AMQP_STATUS_OK)
        throw std::runtime_error(fmt::format("rabbitmq at {}: loading the TLS cert/key files {}: {}", where,
                                             files.cert.string(), amqp_error_string2(rc)));
    return socket;
  }

  amqp_connection_state_t state_;
  bool healthy_ = false;
  Nanos heartbeat_ns_ = 0;
};

// How long a thread may sleep in poll(): short enough to send heartbeats on time.
inline Nanos idle_wait_ns(const AmqpConnection& c) {
  Nanos hb = c.heartbeat_ns();
  return hb > 0 ? std::min<Nanos>(hb / 2, kNanosPerSecond) : kNanosPerSecond;
}

inline void name_this_thread(const std::string& name) { pthread_setname_np(pthread_self(), name.c_str()); }

}  // namespace pathbench::mq::amqp_detail
