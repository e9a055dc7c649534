#include "net/websocket.h"

#include <fmt/format.h>
#include <pthread.h>

#include <optional>
#include <stdexcept>

#include "net/listener.h"
#include "net/websocket_channel.h"

namespace pathbench::net {

using namespace ws_detail;

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

}  // namespace pathbench::net
