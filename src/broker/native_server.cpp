#include "broker/native_server.h"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/listener.h"
#include "net/tls_stream.h"

namespace pathbench::broker {

namespace asio = boost::asio;
using asio::ip::tcp;
using protocol::Frame;
using protocol::FrameType;

struct NativeServer::Impl {
  Impl(Broker& broker_, const NativeServerOptions& options_);
  ~Impl();
  void on_accept(tcp::socket socket);

  Broker& broker;
  NativeServerOptions options;
  std::shared_ptr<asio::ssl::context> tls_context;  // null: plaintext
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{asio::make_work_guard(io)};
  net::Listener listener;  // after io: closed before it goes
  std::vector<std::thread> threads;

  std::atomic<std::uint64_t> open{0}, closed_malformed{0}, closed_too_large{0}, closed_over_limit{0}, closed_handshake{0};
  std::atomic<std::size_t> buffered{0};  // sum of the connections' input buffer capacities

  // Live connections, so the destructor can close their sessions after the threads are joined.
  std::mutex connections_mutex;
  std::unordered_map<void*, std::weak_ptr<class Connection>> connections;
};

namespace {

void fail(std::string_view what, boost::system::error_code ec) {
  // Peers going away is normal; anything else is worth a line on stderr.
  if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
      ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor)
    return;
  fmt::print(stderr, "broker: {}: {}\n", what, ec.message());
}

// Answers waiting to be written beyond which a connection is not read (see on_read).
constexpr std::size_t kMaxQueuedWriteBytes = 8 * 1024 * 1024;

}  // namespace

// One client connection = one broker session. Everything but on_delivery() runs on the strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, NativeServer::Impl& server)
      : socket_(std::move(socket), server.tls_context), server_(server), broker_(server.broker) {}

  void start() {
    boost::system::error_code ec;
    socket_.tcp_socket().set_option(tcp::no_delay(true), ec);
    account_buffer();
    if (!socket_.tls()) return serve();
    // Past the limit a TLS client is closed before its handshake (which would cost the most); it
    // cannot be told why in a protocol it has not started. Plaintext ones get the error frame.
    if (server_.open.load(std::memory_order_relaxed) > server_.options.max_connections) {
      server_.closed_over_limit.fetch_add(1, std::memory_order_relaxed);
      return close();
    }
    // TLS: nothing is read or written before the handshake, which must end in time (a peer that
    // connects and says nothing would hold its connection slot forever).
    linger_timer_.expires_after(std::chrono::nanoseconds(server_.options.handshake_timeout_ns));
    linger_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->handshake_done_) self->handshake_failed("timed out");
    });
    socket_.async_handshake(/*server=*/true, "", [self = shared_from_this()](boost::system::error_code ec) {
      if (self->closed_) return;
      if (ec) return self->handshake_failed(ec.message());
      self->handshake_done_ = true;
      self->linger_timer_.cancel();
      self->serve();
    });
  }

  // Called by the server's destructor once its threads are joined: no handler can race with it.
  void close_from_destructor() { close(); }

 private:
  void serve() {
    session_ = broker_.open_session();
    if (server_.open.load(std::memory_order_relaxed) > server_.options.max_connections)
      return refuse_over_limit(fmt::format("too many connections (max_connections {})", server_.options.max_connections));
    do_read();
  }

  // A plaintext client, another CA's certificate, none, or silence: that connection only, and
  // one line (the peer cannot be told in a protocol it does not speak).
  void handshake_failed(const std::string& why) {
    const auto n = server_.closed_handshake.fetch_add(1, std::memory_order_relaxed) + 1;
    boost::system::error_code ec;
    const auto peer = socket_.tcp_socket().remote_endpoint(ec);
    close();
    if (n > 5 && n % 1000 != 0) return;  // a flood of them: the first few, then one line per thousand
    fmt::print(stderr, "broker: TLS handshake with {} refused: {}\n",
               ec ? std::string("a client") : fmt::format("{}:{}", peer.address().to_string(), peer.port()),
               n > 5 ? fmt::format("{} ({} refused so far)", why, n) : why);
  }

  // --- reading
  void do_read() {
    if (closed_) return;
    const auto room = in_.prepare();
    if (account_buffer() && server_.buffered.load(std::memory_order_relaxed) > server_.options.max_buffered_bytes)
      return refuse_over_limit(fmt::format("server busy: input held for incomplete frames is over max_buffered_bytes ({})",
                                           server_.options.max_buffered_bytes));
    socket_.async_read_available(asio::buffer(room.data(), room.size()),
                                 [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                                   self->on_read(ec, n);
                                 });
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    if (ec) {
      fail("read", ec);
      return close();
    }
    in_.commit(n);
    while (!closed_ && !close_after_flush_) {
      auto r = protocol::decode_frame(in_.readable(), server_.options.max_frame_bytes);
      if (r.kind == protocol::DecodeResult::Kind::need_more) break;
      if (r.kind == protocol::DecodeResult::Kind::error) {
        const bool too_large = r.error == protocol::DecodeError::too_large;
        (too_large ? server_.closed_too_large : server_.closed_malformed).fetch_add(1, std::memory_order_relaxed);
        refuse(too_large ? Status::too_large : Status::malformed);
        break;
      }
      handle(r.frame);
      in_.consume(r.consumed);
    }
    in_.shrink_if_idle();
    account_buffer();
    do_write();
    if (close_after_flush_) return;
    // Back-pressure: a client that sends requests faster than it reads the answers stops being
    // read until they drain, so its answers cannot grow without bound here.
    if (out_.size() + in_flight_.size() > kMaxQueuedWriteBytes) {
      read_paused_ = true;
      return;
    }
    do_read();
  }

  // Brings the server's total of buffered bytes up to date with this connection's input
  // buffer; true when it grew.
  bool account_buffer() {
    const std::size_t now = closed_ ? 0 : in_.capacity();
    if (now == accounted_) return false;
    if (now > accounted_) server_.buffered.fetch_add(now - accounted_, std::memory_order_relaxed);
    else server_.buffered.fetch_sub(accounted_ - now, std::memory_order_relaxed);
    const bool grew = now > accounted_;
    accounted_ = now;
    return grew;
  }

  // A closing connection holds no input: its buffer goes, and the server's total with it.
  void drop_input() {
    in_ = protocol::InputBuffer();
    account_buffer();
  }

  void refuse_over_limit(const std::string& reason) {
    server_.closed_over_limit.fetch_add(1, std::memory_order_relaxed);
    send_error(0, Status::overflow, reason);
    stop_serving();
    do_write();
  }

  // Tells the peer why, then closes once that is written. Nothing more is read.
  void refuse(Status why) {
    send_error(0, why, to_string(why));
    stop_serving();
  }

  // After the last word: nothing more is sent (deliveries included) and the session's
  // consumers go at once, so what they held is redelivered instead of sent into a closing socket.
  void stop_serving() {
    close_after_flush_ = true;
    consumers_.clear();
    broker_.close_session(session_);
    session_closed_ = true;
  }

  // --- frames
  void handle(const Frame& f) {
    switch (f.type) {
      case FrameType::declare_queue: {
        QueueOptions o;
        o.max_pending = static_cast<int>(std::min<std::uint32_t>(f.count, INT32_MAX));
        o.exclusive_owner = f.has_flag(protocol::kFlagExclusive) ? session_ : 0;
        return reply_status(f.seq, broker_.declare(f.name, o));
      }
      case FrameType::delete_queue: return reply_status(f.seq, broker_.delete_queue(f.name));
      case FrameType::publish: {
        Message m;
        m.body.assign(f.body);
        m.reply_to.assign(f.reply_to);
        m.correlation_id = f.correlation_id;
        const Status st = broker_.publish(f.name, std::move(m));
        return confirm(f, st);
      }
      case FrameType::consume: return consume(f);
      case FrameType::cancel: {
        auto it = consumers_.find(f.consumer_tag);
        if (it == consumers_.end()) return send_error(f.seq, Status::unknown_consumer, "no such consumer tag");
        const Status st = broker_.cancel(*it->second);
        consumers_.erase(it);
        return reply_status(f.seq, st);
      }
      case FrameType::ack:
      case FrameType::nack: {
        auto it = consumers_.find(f.consumer_tag);
        if (it == consumers_.end()) return send_error(f.seq, Status::unknown_consumer, "no such consumer tag");
        const Status st = f.type == FrameType::ack
                              ? broker_.ack(*it->second, f.delivery_tag)
                              : broker_.nack(*it->second, f.delivery_tag, f.has_flag(protocol::kFlagRequeue));
        if (st != Status::ok) send_error(f.seq, st, to_string(st));
        return;
      }
      case FrameType::get: {
        Delivery d;
        const Status st = broker_.try_get(f.name, d);
        if (st == Status::empty) return send({.type = FrameType::get_empty, .seq = f.seq});
        if (st != Status::ok) return send_error(f.seq, st, to_string(st));
        return send({.type = FrameType::get_ok, .seq = f.seq,
                     .flags = d.redelivered ? protocol::kFlagRedelivered : std::uint8_t{0},
                     .delivery_tag = d.delivery_tag, .correlation_id = d.message->correlation_id,
                     .message_id = d.message->message_id, .reply_to = d.message->reply_to, .body = d.message->body});
      }
      case FrameType::subscribe: {
        std::uint64_t id = 0;
        const Status st = broker_.subscribe(f.name, id);
        if (st != Status::ok) return send_error(f.seq, st, to_string(st));
        return send({.type = FrameType::subscribe_ok, .seq = f.seq, .subscriber_id = id});
      }
      case FrameType::unsubscribe: return reply_status(f.seq, broker_.unsubscribe(f.name, f.subscriber_id));
      case FrameType::publish_subject: {
        Message m;
        m.body.assign(f.body);
        return confirm(f, broker_.publish_subject(f.name, std::move(m)));
      }
      case FrameType::fetch: {
        fetched_.clear();
        const Status st = broker_.fetch(f.name, f.subscriber_id, fetched_, f.count == 0 ? SIZE_MAX : f.count);
        if (st != Status::ok) return send_error(f.seq, st, to_string(st));
        for (const auto& m : fetched_)
          send({.type = FrameType::fetch_item, .seq = f.seq, .message_id = m->message_id, .body = m->body});
        send({.type = FrameType::fetch_end, .seq = f.seq, .count = static_cast<std::uint32_t>(fetched_.size())});
        fetched_.clear();
        return;
      }
      case FrameType::pause:
      case FrameType::resume: return reply_status(f.seq, broker_.set_paused(f.name, f.type == FrameType::pause));
      case FrameType::ping: return send({.type = FrameType::pong, .seq = f.seq});
      default:
        // A server-to-client frame from a client: well formed, but not a request.
        server_.closed_malformed.fetch_add(1, std::memory_order_relaxed);
        return refuse(Status::malformed);
    }
  }

  void consume(const Frame& f) {
    ConsumeOptions o;
    o.prefetch = static_cast<int>(std::min<std::uint32_t>(f.count, INT32_MAX));
    o.auto_ack = f.has_flag(protocol::kFlagAutoAck);
    o.session = session_;
    ConsumerPtr consumer;
    // The callback may run on any thread, even before consume() returns: it only posts to our
    // strand, where the consumer is registered by then (this handler finishes first).
    const Status st = broker_.consume(
        f.name, o,
        [weak = weak_from_this()](const ConsumerPtr& c, Delivery d) {
          if (auto self = weak.lock()) self->on_delivery(c, std::move(d));
        },
        consumer);
    if (st != Status::ok) return send_error(f.seq, st, to_string(st));
    const std::uint64_t tag = consumer_id(*consumer);
    consumers_.emplace(tag, std::move(consumer));
    send({.type = FrameType::consume_ok, .seq = f.seq, .consumer_tag = tag});
  }

  // Any thread.
  void on_delivery(const ConsumerPtr& consumer, Delivery d) {
    asio::post(socket_.get_executor(), [self = shared_from_this(), consumer, d = std::move(d)] {
      // Dropped when the consumer was cancelled meanwhile: the broker has requeued the message.
      const auto tag = consumer_id(*consumer);
      if (self->closed_ || !self->consumers_.contains(tag)) return;
      const Message& m = *d.message;
      self->send({.type = FrameType::deliver,
                  .flags = d.redelivered ? protocol::kFlagRedelivered : std::uint8_t{0},
                  .consumer_tag = tag, .delivery_tag = d.delivery_tag, .correlation_id = m.correlation_id,
                  .message_id = m.message_id, .reply_to = m.reply_to, .body = m.body});
      self->do_write();
    });
  }

  void confirm(const Frame& f, Status st) {
    if (f.has_flag(protocol::kFlagConfirm)) return send({.type = FrameType::confirm, .seq = f.seq, .status = st});
    // Without confirms a refusal still comes back: nothing is lost silently.
    if (st != Status::ok) send_error(f.seq, st, to_string(st));
  }

  void reply_status(std::uint32_t seq, Status st) {
    if (st == Status::ok) return send({.type = FrameType::ok, .seq = seq});
    send_error(seq, st, to_string(st));
  }

  void send_error(std::uint32_t seq, Status st, std::string_view reason) {
    send({.type = FrameType::error, .seq = seq, .status = st, .body = reason});
  }

  // --- writing: frames are appended to out_; one write in flight carries everything queued.
  void send(const Frame& frame) {
    if (closed_ || close_after_flush_) return;
    protocol::encode_frame(frame, out_);
  }

  void do_write() {
    if (writing_ || closed_) return;
    if (out_.empty()) {
      if (close_after_flush_) linger_then_close();
      return;
    }
    std::swap(out_, in_flight_);
    out_.clear();
    writing_ = true;
    asio::async_write(socket_, asio::buffer(in_flight_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(boost::system::error_code ec) {
    writing_ = false;
    if (ec) {
      fail("write", ec);
      return close();
    }
    in_flight_.clear();
    do_write();
    if (read_paused_ && out_.size() + in_flight_.size() <= kMaxQueuedWriteBytes) {
      read_paused_ = false;
      do_read();
    }
  }

  // After the last word to a refused peer: stop sending and read and drop what it still sends
  // for a moment — closing with its input unread would reset the connection, and the peer
  // would lose the error frame that says why.
  void linger_then_close() {
    if (lingering_ || closed_) return;
    lingering_ = true;
    drop_input();
    socket_.shutdown_send();
    drain_ = std::make_unique<std::array<char, 4096>>();
    linger_timer_.expires_after(std::chrono::milliseconds(500));
    linger_timer_.async_wait([self = shared_from_this()](boost::system::error_code) { self->close(); });
    drain();
  }

  void drain() {
    socket_.async_read_some(asio::buffer(*drain_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (!ec) return self->drain();
      self->linger_timer_.cancel();
      self->close();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    consumers_.clear();
    if (!session_closed_ && session_ != 0) broker_.close_session(session_);  // cancels our consumers: unacked -> redelivered
    session_closed_ = true;
    linger_timer_.cancel();
    socket_.close();
    server_.open.fetch_sub(1, std::memory_order_relaxed);
    drop_input();
    std::lock_guard lock(server_.connections_mutex);
    server_.connections.erase(this);
  }

  net::TlsSocket socket_;
  asio::steady_timer linger_timer_{socket_.get_executor()};  // also the TLS handshake's deadline
  bool handshake_done_ = false;
  std::unique_ptr<std::array<char, 4096>> drain_;  // only while lingering
  bool lingering_ = false;
  bool session_closed_ = false;
  NativeServer::Impl& server_;
  Broker& broker_;
  SessionId session_ = 0;
  std::unordered_map<std::uint64_t, ConsumerPtr> consumers_;  // by consumer tag
  std::vector<MessagePtr> fetched_;
  protocol::InputBuffer in_;
  std::size_t accounted_ = 0;  // in_'s capacity as counted in server_.buffered
  std::string out_, in_flight_;
  bool writing_ = false;
  bool read_paused_ = false;
  bool close_after_flush_ = false;
  bool closed_ = false;
};

namespace {
net::ListenerOptions listener_options(const NativeServerOptions& o) {
  net::ListenerOptions l;
  l.tls = o.tls != nullptr;
  return l;
}
}  // namespace

NativeServer::Impl::Impl(Broker& broker_, const NativeServerOptions& options_)
    : broker(broker_), options(options_),
      tls_context(options_.tls ? net::make_tls_context(*options_.tls, /*server=*/true, "broker " + options_.listen) : nullptr),
      listener(io, options.listen, "broker", listener_options(options_)) {
  listener.start([this](tcp::socket socket) { on_accept(std::move(socket)); });
  const int n = std::max(1, options.threads);
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([this, i] {
      const std::string name = i == 0 ? options.thread_name : fmt::format("{}-{}", options.thread_name, i);
      pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
      io.run();
    });
  }
}

NativeServer::Impl::~Impl() {
  listener.stop();
  work.reset();
  io.stop();
  for (auto& t : threads) t.join();
  // Single-threaded from here: close every session so the broker requeues what they held.
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(connections_mutex);
    for (auto& [key, weak] : connections)
      if (auto c = weak.lock()) live.push_back(std::move(c));
  }
  for (auto& c : live) c->close_from_destructor();
}

void NativeServer::Impl::on_accept(tcp::socket socket) {
  open.fetch_add(1, std::memory_order_relaxed);
  auto connection = std::make_shared<Connection>(std::move(socket), *this);
  {
    std::lock_guard lock(connections_mutex);
    connections.emplace(connection.get(), connection);
  }
  connection->start();
}

NativeServer::NativeServer(Broker& broker, const NativeServerOptions& options)
    : impl_(std::make_unique<Impl>(broker, options)) {}
NativeServer::~NativeServer() = default;

std::string NativeServer::address() const { return impl_->listener.address(); }
std::uint16_t NativeServer::port() const noexcept { return impl_->listener.port(); }
bool NativeServer::tls() const noexcept { return impl_->tls_context != nullptr; }

NativeServerStats NativeServer::stats() const noexcept {
  NativeServerStats s;
  s.connections_accepted = impl_->listener.stats().accepted;
  s.connections_open = impl_->open.load(std::memory_order_relaxed);
  s.closed_malformed = impl_->closed_malformed.load(std::memory_order_relaxed);
  s.closed_too_large = impl_->closed_too_large.load(std::memory_order_relaxed);
  s.closed_over_limit = impl_->closed_over_limit.load(std::memory_order_relaxed);
  s.closed_handshake = impl_->closed_handshake.load(std::memory_order_relaxed);
  s.buffered_bytes = impl_->buffered.load(std::memory_order_relaxed);
  return s;
}

}  // namespace pathbench::broker
