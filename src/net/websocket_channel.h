// net's own (not for other layers): the WebSocket channel of net/websocket.h, templated on the
// stream below the WebSocket layer (plain TCP or TLS), shared by the server (websocket.cpp) and
// the client (websocket_client.cpp); the OpenSSL contexts are net/tls_stream.h's.
#pragma once
#include <fmt/format.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <memory>
#include <string>
#include <type_traits>

#include "core/tls_config.h"
#include "net/tls_stream.h"
#include "net/websocket.h"

namespace pathbench::net::ws_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// The two streams below the WebSocket layer: every class templated on them is compiled once
// for each, so the plaintext one pays nothing for TLS.
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
template <class Next>
inline constexpr bool kTls = std::is_same_v<Next, TlsStream>;

// A process-wide id for each new channel.
std::uint64_t next_channel_id() noexcept;

inline std::chrono::nanoseconds as_duration(Nanos ns) { return std::chrono::nanoseconds(ns); }

inline websocket::stream_base::timeout timeouts(const WsLimits& limits, beast::role_type role) {
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
      : WsChannel(std::move(target), next_channel_id()), tls_context_(std::move(tls_context)),
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
        expect_server_name(tls, server_name);
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

}  // namespace pathbench::net::ws_detail
