#include "net/websocket.h"

#include <fmt/format.h>
#include <pthread.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "core/host_port.h"
#include "net/listener.h"

namespace pathbench::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// The two streams below the WebSocket layer: every class templated on them is compiled once
// for each, so the plaintext one pays nothing for TLS.
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
template <class Next>
constexpr bool kTls = std::is_same_v<Next, TlsStream>;

// An OpenSSL context for one end of mutual TLS: TLS 1.2 at least, this end's chain and key
// (a client may have none: the server then refuses it), the CA the peer must chain to.
// Throws std::runtime_error naming `what` and OpenSSL's reason — never the PEM contents.
std::shared_ptr<ssl::context> make_tls_context(const TlsMaterial& tls, bool server, const std::string& what) {
  auto ctx = std::make_shared<ssl::context>(server ? ssl::context::tls_server : ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  beast::error_code ec;
  auto check = [&](const char* which) {
    if (ec) throw std::runtime_error(fmt::format("{}: TLS: cannot use the {}: {}", what, which, ec.message()));
  };
  if (!tls.cert_pem.empty()) ctx->use_certificate_chain(asio::buffer(tls.cert_pem), ec), check("certificate");
  if (!tls.key_pem.empty()) ctx->use_private_key(asio::buffer(tls.key_pem), ssl::context::pem, ec), check("private key");
  if (!tls.ca_pem.empty()) ctx->add_certificate_authority(asio::buffer(tls.ca_pem), ec), check("CA");
  ctx->set_verify_mode(server ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert : ssl::verify_peer, ec);
  check("verify mode");
  return ctx;
}

std::atomic<std::uint64_t> next_channel_id{1};

std::chrono::nanoseconds as_duration(Nanos ns) { return std::chrono::nanoseconds(ns); }

websocket::stream_base::timeout timeouts(const WsLimits& limits, beast::role_type role) {
  auto t = websocket::stream_base::timeout::suggested(role);
  t.handshake_timeout = as_duration(limits.handshake_timeout_ns);  // also bounds the closing handshake
  t.idle_timeout = limits.idle_timeout_ns > 0 ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                    as_duration(limits.idle_timeout_ns))
                                              : websocket::stream_base::none();
  t.keep_alive_pings = true;  // a quiet but live peer answers pings, so only a dead one times out
  return t;
}

template <class Next>
std::string describe(const beast::error_code& ec, const websocket::stream<Next>& ws) {
  // A close frame from the peer is the best account, even when the connection then broke
  // under a reply or a write (the peer resets after closing with 1009).
  if (ec == websocket::error::closed || ws.reason().code != websocket::close_code::none) {
    const auto& reason = ws.reason();
    return fmt::format("closed by the peer with {}{}{}", static_cast<int>(reason.code), reason.reason.empty() ? "" : ": ",
                       std::string(reason.reason.data(), reason.reason.size()));
  }
  return ec.message();
}

// One WebSocket connection on its own strand (every member below runs on it, except the
// public entry points, which dispatch to it), over plain TCP or TLS (`Next`).
template <class Next>
class BeastChannel final : public WsChannel {
 public:
  using Stream = websocket::stream<Next>;

  // `tls_context`: the OpenSSL context `ws` was made with (TLS only), kept alive as long as it.
  BeastChannel(std::shared_ptr<ssl::context> tls_context, Stream ws, std::string target, Callbacks callbacks,
               const WsLimits& limits, std::function<void(std::uint64_t)> on_gone)
      : WsChannel(std::move(target), next_channel_id.fetch_add(1)), tls_context_(std::move(tls_context)),
        ws_(std::move(ws)), callbacks_(std::move(callbacks)), limits_(limits), on_gone_(std::move(on_gone)) {
    ws_.read_message_max(limits_.max_message_bytes);
    ws_.binary(true);
  }

  void send(std::string payload, bool binary) override {
    asio::dispatch(ws_.get_executor(), [self = self(), payload = std::move(payload), binary]() mutable {
      self->queue_write(std::move(payload), binary);
    });
  }

  void close(CloseCode code, std::string reason) override {
    open_.store(false, std::memory_order_release);
    asio::dispatch(ws_.get_executor(), [self = self(), code, reason = std::move(reason)]() mutable {
      if (self->closed_ || self->closing_) return;
      self->closing_ = true;
      self->close_reason_ = websocket::close_reason(code, reason);
      if (!self->writing_) self->do_close();
    });
  }

  void abort() override {
    open_.store(false, std::memory_order_release);
    asio::dispatch(ws_.get_executor(), [self = self()] {
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
      self->finish("aborted");
    });
  }

  // Server side: completes the opening handshake of `request`, then reads.
  void accept(const HttpRequest& request, std::function<void(bool)> then) {
    ws_.set_option(timeouts(limits_, beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::server, "pathbench");
    }));
    ws_.async_accept(request, [self = self(), then = std::move(then)](beast::error_code ec) {
      if (ec) {
        self->finish(fmt::format("handshake: {}", ec.message()));
        return then(false);
      }
      then(true);
    });
  }

  // Client side: TCP connect (bounded by the handshake timeout), the TLS handshake (verifying
  // `server_name` in the server's certificate) when Next is TLS, then the opening handshake.
  void connect(tcp::resolver::results_type endpoints, std::string host_port, std::string server_name,
               std::function<void(std::string)> then) {
    auto& tcp_layer = beast::get_lowest_layer(ws_);
    tcp_layer.expires_after(as_duration(limits_.handshake_timeout_ns));
    tcp_layer.async_connect(endpoints, [self = self(), host_port = std::move(host_port), server_name = std::move(server_name),
                                        then = std::move(then)](beast::error_code ec, const tcp::endpoint&) mutable {
      if (ec) {
        self->finish("connect: " + ec.message());
        return then(fmt::format("cannot connect to {}: {}", ws_url(kTls<Next>, host_port, self->target()), ec.message()));
      }
      beast::get_lowest_layer(self->ws_).socket().set_option(tcp::no_delay(true), ec);
      if constexpr (kTls<Next>) {
        auto& tls = self->ws_.next_layer();
        // SNI for names only (RFC 6066); the certificate check takes names and IP addresses.
        beast::error_code parse_ec;
        asio::ip::make_address(server_name, parse_ec);
        if (parse_ec) SSL_set_tlsext_host_name(tls.native_handle(), server_name.c_str());
        tls.set_verify_callback(ssl::host_name_verification(server_name));
        tls.async_handshake(ssl::stream_base::client, [self, host_port = std::move(host_port),
                                                       then = std::move(then)](beast::error_code ec) mutable {
          if (ec) {
            self->finish("TLS handshake: " + ec.message());
            return then(fmt::format("TLS handshake with {} failed: {}", ws_url(true, host_port, self->target()), ec.message()));
          }
          self->handshake(std::move(host_port), std::move(then));
        });
      } else {
        self->handshake(std::move(host_port), std::move(then));
      }
    });
  }

  // Client side, after the TCP connect (and the TLS handshake): the opening handshake.
  void handshake(std::string host_port, std::function<void(std::string)> then) {
    beast::get_lowest_layer(ws_).expires_never();  // the websocket stream has its own timeouts
    // Clients run without Beast's idle timer: it is re-armed on every read (a cost per
    // message), and whoever drives a client owns deadlines that notice a silent server
    // (servers ping their idle peers).
    WsLimits client_limits = limits_;
    client_limits.idle_timeout_ns = 0;
    ws_.set_option(timeouts(client_limits, beast::role_type::client));
    const std::string target = this->target();
    ws_.async_handshake(host_port, target, [self = self(), host_port, then = std::move(then)](beast::error_code ec) {
      if (ec) {
        self->finish("handshake: " + ec.message());
        return then(fmt::format("WebSocket handshake with {} failed: {}", ws_url(kTls<Next>, host_port, self->target()),
                                ec.message()));
      }
      then("");
    });
  }

  // After a successful accept/connect, on the strand.
  void start() {
    started_ = true;
    do_read();
  }

  bool closed() const noexcept { return closed_; }
  auto executor() { return ws_.get_executor(); }

 private:
  std::shared_ptr<BeastChannel> self() { return std::static_pointer_cast<BeastChannel>(shared_from_this()); }

  void queue_write(std::string payload, bool binary) {
    if (closed_ || closing_ || write_failed_) return;
    writes_.emplace_back(std::move(payload), binary);
    // A peer that does not read its replies must not grow our memory: stop taking its requests.
    if (writes_.size() > limits_.max_queued_writes) read_paused_ = true;
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    ws_.binary(writes_.front().second);
    ws_.async_write(asio::buffer(writes_.front().first),
                    [self = self()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (closed_) {
      // finish() ran while this write was in flight: it kept the buffer alive until now.
      writes_.clear();
      return;
    }
    if (ec) {
      // The peer may have closed with a reason (1009 after a message too big) and reset the
      // connection while we were still writing: the read in flight gets the close frame or
      // the error, and ends the channel with the better account of why.
      write_failed_ = true;
      writes_.clear();
      if (!reading_) finish(fmt::format("write: {}", describe(ec, ws_)));
      return;
    }
    writes_.pop_front();
    if (read_paused_ && writes_.size() <= limits_.max_queued_writes / 2) {
      read_paused_ = false;
      if (!reading_ && !closed_) do_read();
    }
    if (!writes_.empty()) return do_write();
    if (closing_) do_close();
  }

  void do_read() {
    reading_ = true;
    ws_.async_read(buffer_, [self = self()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    // Beast has already answered a frame that broke the protocol (1002) or the size limit (1009).
    if (ec) return finish(describe(ec, ws_));
    if (!closed_ && !closing_ && callbacks_.on_message) {
      auto data = buffer_.cdata();
      callbacks_.on_message(self(), std::string_view(static_cast<const char*>(data.data()), data.size()), ws_.got_binary());
    }
    buffer_.consume(buffer_.size());
    // Keep reading while closing too: the peer's close frame completes the closing handshake.
    if (!closed_ && !read_paused_) do_read();
  }

  void do_close() {
    if (close_started_) return;
    close_started_ = true;
    ws_.async_close(close_reason_, [self = self()](beast::error_code ec) {
      self->finish(ec ? fmt::format("close: {}", ec.message())
                      : fmt::format("closed with {}", static_cast<int>(self->close_reason_.code)));
    });
  }

  void finish(const std::string& reason) {
    if (closed_) return;
    closed_ = true;
    open_.store(false, std::memory_order_release);
    // A write in flight still reads the front buffer: it goes when that write completes.
    if (writing_) writes_.erase(std::next(writes_.begin()), writes_.end());
    else writes_.clear();
    if (!close_started_ || reading_) {
      // Not a clean close on our side: make sure the socket goes (pending operations end).
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).socket().close(ignored);
    }
    // Beast's idle/ping timer outlives a dropped socket until it fires (up to half the idle
    // timeout), which would keep the io_context busy: turning the timeouts off cancels it.
    ws_.set_option(websocket::stream_base::timeout{websocket::stream_base::none(), websocket::stream_base::none(), false});
    auto callbacks = std::move(callbacks_);  // no cycles through the callbacks' captures
    callbacks_ = {};
    // A channel that never opened (failed connect or handshake) reports through its caller instead.
    if (started_ && callbacks.on_closed) callbacks.on_closed(self(), reason);
    if (on_gone_) on_gone_(id());
  }

  std::shared_ptr<ssl::context> tls_context_;  // before ws_: outlives it
  Stream ws_;
  Callbacks callbacks_;
  const WsLimits limits_;
  std::function<void(std::uint64_t)> on_gone_;
  beast::flat_buffer buffer_;
  std::deque<std::pair<std::string, bool>> writes_;  // front() is in flight while writing_
  websocket::close_reason close_reason_;
  bool writing_ = false, reading_ = false, read_paused_ = false;
  bool started_ = false, closing_ = false, close_started_ = false, closed_ = false, write_failed_ = false;
};

}  // namespace

HttpResponse WsHandler::on_http(const HttpRequest& request) {
  const bool ws = accepts(std::string_view(request.target().data(), request.target().size()));
  HttpResponse res{ws ? http::status::upgrade_required : http::status::not_found, request.version()};
  res.set(http::field::content_type, "text/plain");
  res.body() = ws ? "this endpoint speaks WebSocket: send an Upgrade request\n" : "not found\n";
  return res;
}

namespace {
ListenerOptions listener_options(const WsServerOptions& o) {
  ListenerOptions l;
  l.tls = o.tls != nullptr;
  return l;
}
}  // namespace

struct WsServer::Impl : std::enable_shared_from_this<WsServer::Impl> {
  Impl(const WsServerOptions& o, WsHandler& h)
      : options(o), handler(h), tls_context(o.tls ? make_tls_context(*o.tls, true, o.name) : nullptr),
        listener(io, o.listen, o.name, listener_options(o)) {}

  void start_accepting() {
    // Handlers queued in `io` refer to this Impl by plain pointer: it owns `io`, and a
    // shared_ptr inside its own queue would keep it (and its listening port) alive forever.
    listener.start([self = this](tcp::socket socket) { self->on_accept(std::move(socket)); });
  }

  void on_accept(tcp::socket socket);

  void add(const std::shared_ptr<WsChannel>& channel) {
    std::lock_guard lock(mutex);
    channels.emplace(channel->id(), channel);
  }
  void remove(std::uint64_t id) {
    std::lock_guard lock(mutex);
    channels.erase(id);
  }
  std::vector<std::shared_ptr<WsChannel>> live() {
    std::lock_guard lock(mutex);
    std::vector<std::shared_ptr<WsChannel>> out;
    for (auto& [id, weak] : channels)
      if (auto c = weak.lock()) out.push_back(std::move(c));
    return out;
  }

  const WsServerOptions options;
  WsHandler& handler;
  std::shared_ptr<ssl::context> tls_context;  // null: plaintext
  asio::io_context io;
  Listener listener;  // after io: closed before it goes
  std::vector<std::thread> threads;
  mutable std::mutex mutex;  // guards channels and stopped
  std::unordered_map<std::uint64_t, std::weak_ptr<WsChannel>> channels;
  std::atomic<bool> stopped{false};
};

namespace {

// One accepted TCP connection before (or instead of) the WebSocket upgrade: the TLS handshake
// first when Next is TLS (bounded by the handshake timeout; a failure closes this connection
// only), then reads HTTP requests; an upgrade turns it into a BeastChannel, anything else gets
// the handler's answer.
template <class Next>
class HttpSession : public std::enable_shared_from_this<HttpSession<Next>> {
 public:
  HttpSession(tcp::socket socket, WsServer::Impl* server) : stream_(make_stream(std::move(socket), server)), server_(server) {
    if constexpr (kTls<Next>) tls_context_ = server->tls_context;
  }

  void run() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls<Next>) {
        self->lowest().expires_after(as_duration(self->server_->options.limits.handshake_timeout_ns));
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->drop();  // plaintext bytes, no or a foreign client certificate, a timeout
          self->do_read();
        });
      } else {
        self->do_read();
      }
    });
  }

 private:
  static Next make_stream(tcp::socket socket, WsServer::Impl* server) {
    if constexpr (kTls<Next>) return Next(std::move(socket), *server->tls_context);
    else return Next(std::move(socket));
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void drop() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().socket().close(ignored);
  }

  // The end of a connection that got its answer: TLS says goodbye (close_notify, bounded) first.
  void end() {
    if constexpr (kTls<Next>) {
      lowest().expires_after(std::chrono::seconds(1));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->drop(); });
    } else {
      beast::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
  }

  void do_read() {
    parser_.emplace();
    parser_->body_limit(server_->options.max_http_body_bytes);
    parser_->header_limit(16 * 1024);
    const WsLimits& limits = server_->options.limits;
    lowest().expires_after(as_duration(first_ || limits.idle_timeout_ns <= 0 ? limits.handshake_timeout_ns
                                                                          : limits.idle_timeout_ns));
    first_ = false;
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      // Bytes that are not an HTTP request get 400 and the connection closed; a client that
      // closed or went quiet is just let go. Either way, this connection only.
      if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message)
        return respond(bad_request(), false);
      beast::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    HttpRequest request = parser_->release();
    if (websocket::is_upgrade(request)) {
      if (!server_->handler.accepts(std::string_view(request.target().data(), request.target().size()))) return respond(not_found(request), false);
      return upgrade(std::move(request));
    }
    HttpResponse response = server_->handler.on_http(request);
    respond(std::move(response), request.keep_alive());
  }

  static HttpResponse not_found(const HttpRequest& request) {
    HttpResponse res{http::status::not_found, request.version()};
    res.set(http::field::content_type, "text/plain");
    res.body() = "not found\n";
    return res;
  }

  static HttpResponse bad_request() {
    HttpResponse res{http::status::bad_request, 11};
    res.set(http::field::content_type, "text/plain");
    res.body() = "bad request\n";
    return res;
  }

  void respond(HttpResponse response, bool keep_alive) {
    response_ = std::move(response);
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = this->shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
      if (ec) return self->drop();
      if (!keep_alive) return self->end();
      self->do_read();
    });
  }

  void upgrade(HttpRequest request) {
    lowest().expires_never();  // the websocket stream has its own timeouts
    WsServer::Impl* server = server_;
    WsHandler& handler = server->handler;
    WsChannel::Callbacks callbacks{
        [&handler](const std::shared_ptr<WsChannel>& c, std::string_view payload, bool binary) {
          handler.on_message(c, payload, binary);
        },
        [&handler](const std::shared_ptr<WsChannel>& c, const std::string& reason) { handler.on_closed(c, reason); }};
    using Channel = BeastChannel<Next>;
    auto channel = std::make_shared<Channel>(tls_context_, typename Channel::Stream(std::move(stream_)),
                                             std::string(request.target()), std::move(callbacks), server->options.limits,
                                             [server](std::uint64_t id) { server->remove(id); });
    channel->accept(request, [channel, server](bool ok) {
      if (!ok) return;
      if (server->stopped.load()) return channel->close(CloseCode::going_away, "server stopping");
      bool over = false;
      {
        std::lock_guard lock(server->mutex);
        over = server->channels.size() >= static_cast<std::size_t>(std::max(0, server->options.max_connections));
      }
      server->add(channel);
      if (over) return channel->close(CloseCode::try_again_later, "too many connections");
      server->handler.on_open(channel);
      channel->start();
    });
  }

  std::shared_ptr<ssl::context> tls_context_;  // TLS only; before stream_: outlives it
  Next stream_;
  WsServer::Impl* server_;  // outlives every handler it runs (see do_accept)
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpResponse response_;
  bool first_ = true;
};

}  // namespace

void WsServer::Impl::on_accept(tcp::socket socket) {
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (tls_context) std::make_shared<HttpSession<TlsStream>>(std::move(socket), this)->run();
  else std::make_shared<HttpSession<PlainStream>>(std::move(socket), this)->run();
}

WsServer::WsServer(const WsServerOptions& options, WsHandler& handler) : impl_(std::make_shared<Impl>(options, handler)) {
  impl_->start_accepting();
  const int threads = std::max(1, options.threads);
  for (int i = 0; i < threads; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] { impl->io.run(); });
    const std::string name = threads == 1 ? options.thread_name : fmt::format("{}{}", options.thread_name, i);
    pthread_setname_np(impl_->threads.back().native_handle(), name.substr(0, 15).c_str());
  }
}

WsServer::~WsServer() { stop(); }

std::string WsServer::address() const { return impl_->listener.address(); }
bool WsServer::tls() const noexcept { return impl_->tls_context != nullptr; }

std::string ws_url(bool tls, const std::string& host_port, std::string_view target) {
  return fmt::format("{}://{}{}", tls ? "wss" : "ws", host_port, target);
}

std::size_t WsServer::connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->channels.size();
}

void WsServer::close_all(CloseCode code) {
  for (auto& c : impl_->live()) c->close(code, "");
}

void WsServer::abort_all() {
  for (auto& c : impl_->live()) c->abort();
}

void WsServer::stop() {
  if (impl_->threads.empty() || impl_->stopped.exchange(true)) return;
  impl_->listener.stop();  // the port is free from here: a restarted server can listen again
  close_all(CloseCode::going_away);
  // A clean close needs the peer's answer; a peer that does not answer is cut after a grace.
  const Nanos give_up_ns = now_ns() + 500 * kNanosPerMilli;
  while (connections() > 0 && now_ns() < give_up_ns) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  abort_all();
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

namespace {

template <class Next>
void connect_channel(asio::io_context& io, const HostPort& address, const std::string& host_port, const std::string& target,
                     const WsLimits& limits, std::shared_ptr<ssl::context> tls_context, std::string server_name,
                     WsChannel::Callbacks callbacks, std::function<void(std::shared_ptr<WsChannel>, std::string)> done) {
  using Channel = BeastChannel<Next>;
  std::shared_ptr<Channel> channel;
  if constexpr (kTls<Next>)
    channel = std::make_shared<Channel>(tls_context, typename Channel::Stream(asio::make_strand(io), *tls_context), target,
                                        std::move(callbacks), limits, nullptr);
  else
    channel = std::make_shared<Channel>(nullptr, typename Channel::Stream(asio::make_strand(io)), target,
                                        std::move(callbacks), limits, nullptr);
  // Addresses here are numeric or names from the scenario; resolving is quick and bounded by
  // the resolver's own timeouts (it runs before the handshake timer starts).
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(address.host, std::to_string(address.port), ec);
  if (ec) {
    asio::post(channel->executor(), [channel, done = std::move(done), host_port, ec] {
      done(nullptr, fmt::format("cannot resolve {}: {}", host_port, ec.message()));
    });
    return;
  }
  asio::dispatch(channel->executor(), [channel, endpoints, host_port, server_name = std::move(server_name),
                                       done = std::move(done)]() mutable {
    channel->connect(endpoints, host_port, std::move(server_name), [channel, done = std::move(done)](std::string error) {
      if (!error.empty()) return done(nullptr, std::move(error));
      channel->start();
      done(channel, "");
    });
  });
}

}  // namespace

void ws_connect(asio::io_context& io, const std::string& host_port, const std::string& target, const WsLimits& limits,
                const TlsMaterial* tls, WsChannel::Callbacks callbacks,
                std::function<void(std::shared_ptr<WsChannel>, std::string)> done) {
  const auto parsed = parse_host_port(host_port);
  if (!parsed) {
    asio::post(io, [done = std::move(done), host_port] { done(nullptr, fmt::format("\"{}\" is not host:port", host_port)); });
    return;
  }
  if (!tls)
    return connect_channel<PlainStream>(io, *parsed, host_port, target, limits, nullptr, {}, std::move(callbacks),
                                        std::move(done));
  std::shared_ptr<ssl::context> context;
  try {
    context = make_tls_context(*tls, false, "WebSocket client " + ws_url(true, host_port, target));
  } catch (const std::exception& e) {
    asio::post(io, [done = std::move(done), error = std::string(e.what())] { done(nullptr, error); });
    return;
  }
  connect_channel<TlsStream>(io, *parsed, host_port, target, limits, std::move(context),
                             tls->server_name.empty() ? parsed->host : tls->server_name, std::move(callbacks),
                             std::move(done));
}

}  // namespace pathbench::net
